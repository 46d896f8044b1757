import { EventEmitter } from 'node:events';
import { createLogger, type CacheRedisClient } from '@settings/shared';
import { IncarnationGate } from '../../src/cache/incarnation-gate';
import { createSettingsMetrics } from '../../src/metrics';

/**
 * A Redis Cluster failover seen only by a slot refresh: ioredis changes the role of a replica it
 * already knows (no '+node'), and the old master's '-node' comes once its connection ends, ~2 s
 * later against a host that does not answer. Meanwhile reads in the old master's slots go to
 * the promoted replica, which may lack the last markers: the gate must close at the refresh.
 */
class FakeCluster extends EventEmitter {
  readonly isCluster = true;
  status = 'ready';
  readonly store = new Map<string, string>();
  masters: Array<{ options: { host: string; port: number }; info: (section?: string) => Promise<string> }> = [];

  setMasters(nodes: Array<[port: number, runId: string]>): void {
    this.masters = nodes.map(([port, runId]) => ({ options: { host: '10.0.0.1', port }, info: async (section?: string) => (section === 'replication' ? `# Replication\r\nrole:master\r\nmaster_replid:${'0'.repeat(40)}\r\n` : `# Server\r\nrun_id:${runId}\r\n`) }));
  }

  /** Masters the slot map names (host:port) beyond those with a connection (a dropped node). */
  dropped: string[] = [];

  nodes(): unknown[] {
    return this.masters;
  }

  /** ioredis' slot map: slot → [master, ...replicas] as host:port; one slot per master is enough here. */
  get slots(): string[][] {
    return [...this.masters.map((m) => `${m.options.host}:${m.options.port}`), ...this.dropped].map((m) => [m]);
  }

  async get(key: string): Promise<string | null> {
    return this.store.get(key) ?? null;
  }

  async set(key: string, value: string): Promise<'OK'> {
    this.store.set(key, value);
    return 'OK';
  }
}

const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

/** A gate over masters 7000 and 7001, once trusted; `renewed` counts generation renewals. */
async function trustedGate() {
  const cluster = new FakeCluster();
  cluster.setMasters([[7000, 'aaaa'], [7001, 'bbbb']]);
  const metrics = createSettingsMetrics();
  const gate = new IncarnationGate(cluster as unknown as CacheRedisClient, createLogger('test', 'silent'), metrics);
  expect(await gate.waitTrusted(1000)).toBe(true);
  const renewed = async (): Promise<number> => (await metrics.generationsRenewed.get()).values[0]?.value ?? 0;
  return { cluster, gate, renewed };
}

describe('IncarnationGate on a Redis Cluster', () => {
  it('closes when a slot refresh shows another set of masters, and renews the generations before opening again', async () => {
    const { cluster, gate, renewed } = await trustedGate();
    const before = await renewed();

    // The same masters at the next refresh: nothing changes.
    cluster.emit('refresh');
    expect(gate.isTrusted).toBe(true);

    // 7001's replica (7002, another process) is promoted; only the refresh says so.
    cluster.setMasters([[7000, 'aaaa'], [7002, 'cccc']]);
    cluster.emit('refresh');
    expect(gate.isTrusted).toBe(false);
    await settle();
    expect(await gate.waitTrusted(1000)).toBe(true);
    expect(await renewed()).toBe(before + 1);
  });

  it('stays closed while a master of the slot map has no connection (a node dropped, not yet back), and opens without renewing once it is back', async () => {
    const { cluster, gate, renewed } = await trustedGate();
    const before = await renewed();

    // 7001's connection is replaced: ioredis drops the node from its pool ('-node') while the
    // slot map still names it. Compared without it, the run ids differed: every generation
    // was renewed, and again when it came back.
    cluster.setMasters([[7000, 'aaaa']]);
    cluster.dropped = ['10.0.0.1:7001'];
    cluster.emit('-node');
    await settle();
    expect(gate.isTrusted).toBe(false);
    expect(await gate.waitTrusted(700)).toBe(false);

    cluster.setMasters([[7000, 'aaaa'], [7001, 'bbbb']]);
    cluster.dropped = [];
    cluster.emit('+node', new EventEmitter());
    expect(await gate.waitTrusted(2000)).toBe(true);
    expect(await renewed()).toBe(before);
  });

  it("opens again when a dropped master's connection closes while the check after its '-node' runs (ioredis' slot refresh removes it first)", async () => {
    const { cluster, gate, renewed } = await trustedGate();
    const before = await renewed();
    const oldMaster = new EventEmitter();
    cluster.emit('+node', oldMaster);
    expect(await gate.waitTrusted(1000)).toBe(true);
    await settle();

    // A failover's slot refresh: ioredis' pool drops the old master ('-node') and disconnects
    // it; its 'close' comes a moment later, while the check that '-node' started runs. That
    // check's result is dropped (an older connection); another must run.
    cluster.setMasters([[7000, 'aaaa'], [7002, 'cccc']]);
    cluster.emit('-node');
    oldMaster.emit('close');
    expect(gate.isTrusted).toBe(false);
    expect(await gate.waitTrusted(2000)).toBe(true);
    expect(await renewed()).toBeGreaterThan(before);
  });

  it('opens again when a connection closes while a failed check waits to be tried again', async () => {
    const { cluster, gate } = await trustedGate();
    const node = new EventEmitter();
    cluster.emit('+node', node);
    expect(await gate.waitTrusted(1000)).toBe(true);
    await settle();

    // A check fails (a master's INFO refused), and the node closes before the retry is due.
    const masters = cluster.masters;
    cluster.masters = [{ options: { host: '10.0.0.1', port: 7000 }, info: () => Promise.reject(new Error('Connection is closed.')) }];
    cluster.emit('refresh');
    await settle();
    cluster.masters = masters;
    node.emit('close');
    expect(await gate.waitTrusted(2000)).toBe(true);
  });

  it('a check that never answers counts as failed after its bound: the next one runs, and the cache is trusted again (a failover, renewed)', async () => {
    const cluster = new FakeCluster();
    cluster.setMasters([[7000, 'aaaa'], [7001, 'bbbb']]);
    const metrics = createSettingsMetrics();
    // The first check's read is never answered (a command ioredis re-sent during a failover).
    const get = cluster.get.bind(cluster);
    let reads = 0;
    cluster.get = (key: string) => (++reads === 1 ? new Promise<string | null>(() => undefined) : get(key));
    const gate = new IncarnationGate(cluster as unknown as CacheRedisClient, createLogger('test', 'silent'), metrics, 100);
    expect(await gate.waitTrusted(2000)).toBe(true);
    expect((await metrics.generationsRenewed.get()).values[0]?.value).toBe(1);
  });
});
