import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { freePort } from './free-port';
import { ManagedProcess } from './managed-process';
import { componentDir } from './state-dir';
import { uniqueId } from './unique-id';
import { waitUntil } from './wait-until';

const COMPONENT = 'redis-failover-cluster';

/**
 * A Redis Cluster of three masters and one replica (of the first master), started by a test for
 * itself on free ports: the path a failover takes, which the stack's replica-less cluster
 * (redis-cluster.ts) cannot show. A short node timeout (1 s) so that a frozen master is failed
 * over in a few seconds. Same settings as the stack's Redis otherwise (no persistence).
 */
export interface RedisFailoverCluster {
  /** `host:port,...` of every node, for REDIS_CLUSTER_NODES. */
  readonly nodes: string;
  /** The master that has a replica, and its replica. */
  readonly master: number;
  readonly replica: number;
  /** Every slot of `port`'s master (CLUSTER SLOTS), e.g. to pick keys it serves. */
  slotsOf(port: number): Array<[number, number]>;
  /** SIGSTOP: the process keeps its sockets open and answers nothing (a partition, a hung host). */
  freeze(port: number): void;
  /** SIGCONT. */
  thaw(port: number): void;
  /** Waits until `port` is a master with its slots (the cluster promoted it). */
  waitPromoted(port: number, timeoutMs?: number): Promise<void>;
  /** Stops every node (thawed first) and deletes their folders. */
  remove(): Promise<void>;
}

function cli(port: number, ...args: string[]): string {
  const r = spawnSync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { encoding: 'utf8', timeout: 10_000 });
  return (r.stdout ?? '').trim();
}

export async function startRedisFailoverCluster(): Promise<RedisFailoverCluster> {
  const id = uniqueId('c');
  const nodes: Array<{ port: number; process: ManagedProcess; dir: string }> = [];
  for (let i = 0; i < 4; i++) {
    const port = await freePort();
    const busPort = await freePort();
    const name = `${COMPONENT}-${id}-${i}`;
    const node = { port, process: new ManagedProcess(name), dir: componentDir(name) };
    node.process.start('redis-server', [
      '--port', String(port),
      '--bind', '127.0.0.1',
      '--cluster-enabled', 'yes',
      '--cluster-config-file', 'nodes.conf',
      '--cluster-port', String(busPort),
      '--cluster-node-timeout', '1000',
      '--save', '',
      '--appendonly', 'no',
      '--dir', node.dir,
      '--maxmemory', '64mb',
      '--maxmemory-policy', 'noeviction',
    ]);
    nodes.push(node);
  }
  const remove = async (): Promise<void> => {
    for (const n of nodes) {
      const pid = n.process.pid();
      if (pid !== undefined && n.process.isRunning()) process.kill(pid, 'SIGCONT');
    }
    await Promise.all(nodes.map((n) => n.process.stop(5000)));
    for (const n of nodes) rmSync(n.dir, { recursive: true, force: true });
  };
  try {
    for (const n of nodes) await waitUntil(COMPONENT, `PING on ${n.port}`, async () => cli(n.port, 'PING') === 'PONG', { timeoutMs: 15_000, log: n.process.log });
    const [m, , , r] = nodes as [(typeof nodes)[0], (typeof nodes)[0], (typeof nodes)[0], (typeof nodes)[0]];
    const created = spawnSync('redis-cli', ['--cluster', 'create', ...nodes.slice(0, 3).map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '0', '--cluster-yes'], { encoding: 'utf8', timeout: 30_000 });
    if (created.status !== 0) throw new Error(`redis-cli --cluster create failed: ${(created.stderr || created.stdout).trim().split('\n').slice(-3).join(' ')}`);
    const masterId = cli(m.port, 'CLUSTER', 'MYID');
    const added = spawnSync('redis-cli', ['--cluster', 'add-node', `127.0.0.1:${r.port}`, `127.0.0.1:${m.port}`, '--cluster-slave', '--cluster-master-id', masterId], { encoding: 'utf8', timeout: 30_000 });
    if (added.status !== 0) throw new Error(`redis-cli --cluster add-node failed: ${(added.stderr || added.stdout).trim().split('\n').slice(-3).join(' ')}`);
    await waitUntil(COMPONENT, 'the replica in sync and the cluster ok', async () => /master_link_status:up/.test(cli(r.port, 'INFO', 'replication')) && nodes.every((n) => /cluster_state:ok/.test(cli(n.port, 'CLUSTER', 'INFO'))), { timeoutMs: 30_000, log: r.process.log });
    const pidOf = (port: number): number => {
      const pid = nodes.find((n) => n.port === port)?.process.pid();
      if (pid === undefined) throw new Error(`no failover-cluster node on ${port}`);
      return pid;
    };
    return {
      nodes: nodes.map((n) => `127.0.0.1:${n.port}`).join(','),
      master: m.port,
      replica: r.port,
      slotsOf(port) {
        const myId = cli(port, 'CLUSTER', 'MYID');
        // `CLUSTER SHARDS` is 7.0+; `CLUSTER NODES` works everywhere: `<id> ... <slot ranges>`.
        const line = cli(port, 'CLUSTER', 'NODES').split('\n').find((l) => l.startsWith(myId)) ?? '';
        return line
          .split(' ')
          .slice(8)
          .filter((r) => /^\d+(-\d+)?$/.test(r))
          .map((r) => {
            const [a, b] = r.split('-').map(Number);
            return [a!, b ?? a!] as [number, number];
          });
      },
      freeze: (port) => process.kill(pidOf(port), 'SIGSTOP'),
      thaw: (port) => process.kill(pidOf(port), 'SIGCONT'),
      async waitPromoted(port, timeoutMs = 30_000) {
        await waitUntil(COMPONENT, `${port} promoted`, async () => /^master/.test(cli(port, 'ROLE')) && /cluster_state:ok/.test(cli(port, 'CLUSTER', 'INFO')), { timeoutMs });
      },
      remove,
    };
  } catch (err) {
    await remove();
    throw err;
  }
}
