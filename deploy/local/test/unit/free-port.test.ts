import { readFileSync } from 'node:fs';
import { freePort } from '../../src/free-port';
import { localStack } from '@settings/shared';

function ephemeralLow(): number | undefined {
  try {
    return Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
  } catch {
    return undefined;
  }
}

describe('freePort', () => {
  it('hands out distinct ports below the ephemeral range, where client sockets cannot take them before the child listens', async () => {
    const ports: number[] = [];
    for (let i = 0; i < 20; i++) ports.push(await freePort());
    expect(new Set(ports).size).toBe(ports.length);
    const low = ephemeralLow();
    if (low !== undefined && low > 32_767) for (const p of ports) expect(p).toBeLessThan(low);
  });

  it('never hands out a port of the local stack', async () => {
    const stackPorts = new Set<number>([localStack.postgresPort, localStack.redisPort, localStack.kafkaPort, localStack.kafkaControllerPort, localStack.connectPort, ...localStack.redisClusterPorts, ...localStack.redisClusterPorts.map((p) => p - 10_000)]);
    for (let i = 0; i < 20; i++) expect(stackPorts.has(await freePort())).toBe(false);
  });

  it('keeps the stack itself below the ephemeral range, so a component restarted mid-run can bind its port again', () => {
    const low = ephemeralLow();
    if (low === undefined) return;
    for (const p of [localStack.postgresPort, localStack.redisPort, localStack.kafkaPort, localStack.kafkaControllerPort, localStack.connectPort, ...localStack.redisClusterPorts]) expect(p).toBeLessThan(low);
  });
});
