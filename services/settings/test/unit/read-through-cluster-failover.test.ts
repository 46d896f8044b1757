import { createLogger, defaultCacheTiming, generationKey, keySlot, PayloadGenerations } from '@settings/shared';
import { CircuitBreaker } from '../../src/cache/circuit-breaker';
import { ConcurrencyLimiter } from '../../src/cache/concurrency-limiter';
import { ReadThrough, type Loaded, type ReadSource } from '../../src/cache/read-through';
import type { CacheRedis } from '../../src/cache/redis-client';
import { createSettingsMetrics } from '../../src/metrics';

/**
 * The read path on a Redis Cluster while a master fails over (pure logic: an in-memory stand-in
 * for the cluster client, whose slot map the test changes the way ioredis does when it follows a
 * MOVED). The promoted replica may lack the old master's last markers; until the incarnation
 * check has compared it, what it answers must not be served.
 */
class FakeCluster {
  readonly isCluster = true;
  /** Slot → [master host:port], as ioredis keeps it. */
  readonly slots: string[][] = Array.from({ length: 16384 }, () => ['10.0.0.1:6379']);
  store = new Map<string, Buffer>();
  /** Every command times out (a master gone, before the failover). */
  down = false;
  /** Runs before an MGET answers (the test's failover). */
  beforeMgetAnswers: (() => void) | undefined;
  getBuffer(key: string) {
    if (this.down) return Promise.reject(new Error('Command timed out'));
    return Promise.resolve(this.store.get(key) ?? null);
  }
  mgetBuffer(...keys: string[]) {
    if (this.down) return Promise.reject(new Error('Command timed out'));
    this.beforeMgetAnswers?.();
    return Promise.resolve(keys.map((key) => this.store.get(key) ?? null));
  }
  call(_cmd: 'SET', key: string, value: string) {
    const prev = this.store.get(key)?.toString('latin1') ?? null;
    if (prev === null) this.store.set(key, Buffer.from(value));
    return Promise.resolve(prev);
  }
  versionedFill() {
    return Promise.resolve(1);
  }
}

function setup() {
  const redis = new FakeCluster();
  const verified = new Set(['10.0.0.1:6379']);
  const clock = { t: 1_000_000 };
  const breaker = new CircuitBreaker({ failureThreshold: 2, openMs: 60_000, now: () => clock.t });
  const rt = new ReadThrough({
    redis: redis as unknown as CacheRedis,
    breaker,
    fallbackLimiter: new ConcurrencyLimiter(8),
    metrics: createSettingsMetrics(),
    timing: defaultCacheTiming,
    log: createLogger('test', 'silent'),
    cacheTrusted: () => true,
    masterVerified: (node) => verified.has(node),
  });
  let loads = 0;
  const source: ReadSource<string, string> = {
    space: 'account-settings',
    cacheKey: (k) => ({ key: `v1:{acct:${k}}:account-settings`, space: 'account-settings' }),
    encode: (v) => Buffer.from(v),
    decode: (b) => b.toString(),
    async load(keys) {
      loads += 1;
      return new Map<string, Loaded<string>>(keys.map((k) => [`v1:{acct:${k}}:account-settings`, { version: 2n, value: 'v2 from PostgreSQL' }]));
    },
  };
  const read = (key: string) => rt.get(source, key, { mode: { kind: 'minimize_latency' }, startedAt: Date.now(), deadline: Date.now() + 5000 });
  redis.store.set(generationKey('account-settings'), Buffer.from('7'));
  return { redis, verified, read, loads: () => loads, breaker, clock };
}

/** An entry at v1 under the generation Redis holds (7): what the promoted replica still has (it missed the v2 marker). */
const staleEntry = (): Buffer => Buffer.from(`e|1|${new PayloadGenerations().of('account-settings', 7n)}|v1 stale`);

describe('ReadThrough on a Redis Cluster during a failover', () => {
  it('does not serve an answer from a master the incarnation check has not compared (a MOVED followed while the lookup was in flight)', async () => {
    const { redis, read, loads } = setup();
    const key = 'v1:{acct:a}:account-settings';
    redis.store.set(key, staleEntry());
    redis.beforeMgetAnswers = () => {
      // ioredis following a MOVED: the slot now points at the promoted replica.
      redis.slots[keySlot(key)] = ['10.0.0.2:6379'];
    };
    const got = await read('a');
    expect(got?.value).toBe('v2 from PostgreSQL');
    expect(loads()).toBe(1);
  });

  it('serves the entry from a master the check compared (the control)', async () => {
    const { redis, read, loads } = setup();
    redis.store.set('v1:{acct:c}:account-settings', staleEntry());
    expect((await read('c'))?.value).toBe('v1 stale');
    expect(loads()).toBe(0);
  });

  it('does not even ask a master the check has not compared (the slot map already points at it)', async () => {
    const { redis, read, loads } = setup();
    const key = 'v1:{acct:b}:account-settings';
    redis.store.set(key, staleEntry());
    redis.slots[keySlot(key)] = ['10.0.0.2:6379'];
    const got = await read('b');
    expect(got?.value).toBe('v2 from PostgreSQL');
    expect(loads()).toBe(1);
  });

  it('a breaker probe answered by a master the check has not compared lets the next request probe: the breaker closes once Redis is trusted', async () => {
    const { redis, read, breaker, clock } = setup();
    const key = 'v1:{acct:d}:account-settings';
    redis.store.set(key, staleEntry());
    redis.down = true;
    await read('d');
    await read('d');
    expect(breaker.state).toBe('open');
    redis.down = false;
    clock.t += 60_001;
    // The probe meets a slot map that already names the promoted replica: not asked.
    redis.slots[keySlot(key)] = ['10.0.0.2:6379'];
    expect((await read('d'))?.value).toBe('v2 from PostgreSQL');
    // The slot is served by a compared master again: the next read probes and closes the breaker.
    redis.slots[keySlot(key)] = ['10.0.0.1:6379'];
    expect((await read('d'))?.value).toBe('v1 stale');
    expect(breaker.state).toBe('closed');
  });
});
