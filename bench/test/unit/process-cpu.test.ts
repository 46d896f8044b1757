import { localStack } from '@settings/shared';
import { cpuRoleOf, stackPostmasters, type ProcInfo } from '../../src/process-cpu';

// /proc/<pid>/cmdline separates arguments with NUL bytes.
const cmd = (...args: string[]): string => `${args.join('\0')}\0`;
const proc = (pid: number, ppid: number, comm: string, cmdline: string): ProcInfo => ({ pid, ppid, comm, cmdline });

// The machine's own PostgreSQL (pid 10) and the local stack's (pid 20), as ps shows them here.
const machinePg = proc(10, 1, 'postgres', cmd('/usr/lib/postgresql/15/bin/postgres', '-D', '/var/lib/postgresql/15/main'));
const stackPg = proc(20, 1, 'postgres', cmd('/usr/lib/postgresql/15/bin/postgres', '-D', '/work/main/.stack/postgres/data'));
const postmasters = stackPostmasters([machinePg, stackPg, proc(21, 20, 'postgres', cmd('postgres: checkpointer'))]);
const role = (p: ProcInfo): string | undefined => cpuRoleOf(p, postmasters);

describe('cpuRoleOf: which process the incident replay counts as what', () => {
  test.each([
    [proc(2, 1, 'node', cmd('/usr/bin/node', '/work/main/services/settings/dist/src/main.js')), 'service'],
    [proc(3, 1, 'node', cmd('/usr/bin/node', '/work/main/bench/dist/baselines/legacy-server.js')), 'service'],
    [proc(4, 1, 'node', cmd('/usr/bin/node', '/work/main/services/invalidator/dist/src/main.js')), 'invalidator'],
    [proc(5, 1, 'node', cmd('/usr/bin/node', '/work/main/bench/dist/baselines/bulk-job.js')), 'bulk job'],
    [proc(6, 1, 'node', cmd('/usr/bin/node', '/work/main/bench/dist/src/main.js')), 'load generator'],
    [proc(7, 1, 'java', cmd('java', '-Xmx512m', '-cp', 'libs/*', 'org.apache.kafka.connect.cli.ConnectDistributed', 'worker.properties')), 'Kafka Connect'],
    [proc(8, 1, 'java', cmd('java', '-Xmx512m', '-cp', 'libs/*', 'kafka.Kafka', 'server.properties')), 'Kafka broker'],
    [stackPg, 'PostgreSQL'],
    [proc(22, 20, 'postgres', cmd('postgres: settings_app settings 127.0.0.1(40000) idle')), 'PostgreSQL'],
    [proc(30, 1, 'redis-server', cmd(`redis-server 127.0.0.1:${localStack.redisPort}`)), 'Redis'],
  ])('%j → %s', (p, expected) => {
    expect(role(p)).toBe(expected);
  });

  test("the machine's own PostgreSQL and Redis on the default ports, and anything else, are not counted", () => {
    expect(role(machinePg)).toBeUndefined();
    expect(role(proc(11, 10, 'postgres', cmd('postgres: 15/main: walwriter')))).toBeUndefined();
    expect(role(proc(12, 1, 'redis-server', cmd('redis-server 127.0.0.1:6379')))).toBeUndefined();
    expect(role(proc(13, 1, 'bash', cmd('bash', '-c', 'sleep 1')))).toBeUndefined();
  });
});
