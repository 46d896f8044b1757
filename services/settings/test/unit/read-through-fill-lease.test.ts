import { createLogger, defaultCacheTiming, fillLeaseKey, generationKey } from '@settings/shared';
import { CircuitBreaker } from '../../src/cache/circuit-breaker';
import { ConcurrencyLimiter } from '../../src/cache/concurrency-limiter';
import { ReadThrough, type Loaded, type ReadSource } from '../../src/cache/read-through';
import type { CacheRedis } from '../../src/cache/redis-client';
import { createSettingsMetrics } from '../../src/metrics';

/** The read path with fill leases, against an in-memory stand-in for Redis (pure logic). */
class FakeRedis {
  store = new Map<string, Buffer>();
  getBuffer(key: string) {
    return Promise.resolve(this.store.get(key) ?? null);
  }
  mgetBuffer(...keys: string[]) {
    return Promise.resolve(keys.map((key) => this.store.get(key) ?? null));
  }
  /** `SET key value PX ttl NX`: a fill lease. */
  set(key: string, value: string) {
    if (this.store.has(key)) return Promise.resolve(null);
    this.store.set(key, Buffer.from(value));
    return Promise.resolve('OK');
  }
  releaseFillLease(key: string, token: string) {
    if (this.store.get(key)?.toString() !== token) return Promise.resolve(0);
    this.store.delete(key);
    return Promise.resolve(1);
  }
  versionedFill(key: string, version: string, generation: string, _ttl: number, payload: Buffer) {
    this.store.set(key, Buffer.concat([Buffer.from(`e|${version}|${generation}|`), payload]));
    return Promise.resolve(1);
  }
}

const key = (k: string): string => `v1:{acct:${k}}:account-settings`;

function setup() {
  const redis = new FakeRedis();
  const rt = new ReadThrough({
    redis: redis as unknown as CacheRedis,
    breaker: new CircuitBreaker({ failureThreshold: 2, openMs: 60_000 }),
    fallbackLimiter: new ConcurrencyLimiter(8),
    metrics: createSettingsMetrics(),
    timing: defaultCacheTiming,
    log: createLogger('test', 'silent'),
    fillLease: { ttlMs: 60_000, pollMs: 20 },
  });
  let loads = 0;
  const source: ReadSource<string, string> = {
    space: 'account-settings',
    cacheKey: (k) => ({ key: key(k), space: 'account-settings' }),
    encode: (v) => Buffer.from(v),
    decode: (b) => b.toString(),
    async load(keys) {
      loads += 1;
      return new Map<string, Loaded<string>>(keys.map((k) => [key(k), { version: 9n, value: `v9 ${k}` }]));
    },
  };
  redis.store.set(generationKey('account-settings'), Buffer.from('7'));
  return { redis, rt, source, loads: () => loads };
}

it('a token read does not join a load waiting on another replica\'s fill lease: it loads at once', async () => {
  const s = setup();
  s.redis.store.set(fillLeaseKey(key('a')), Buffer.from('another-replica'));
  const now = Date.now();
  const leased = s.rt.get(s.source, 'a', { mode: { kind: 'minimize_latency' }, startedAt: now, deadline: now + 5000 });
  await new Promise((r) => setTimeout(r, 5));
  const token = s.rt.get(s.source, 'a', { mode: { kind: 'at_least_as_fresh', token: { version: 9n, listVersion: 9n } }, startedAt: Date.now(), deadline: Date.now() + 5000 });
  // The leased read waits for the other replica's fill (a minute's lease); the token read does not.
  expect(await Promise.race([token.then((t) => `token ${t?.value}`), leased.then(() => 'leased')])).toBe('token v9 a');
  expect(s.loads()).toBe(1);
  // The token read's fill is what the leased read was waiting for.
  expect((await leased)?.value).toBe('v9 a');
});

it('a read of several keys releases the lease of a key it filled once that fill is done, not when its other keys are', async () => {
  const s = setup();
  s.redis.store.set(fillLeaseKey(key('b')), Buffer.from('another-replica'));
  const now = Date.now();
  const both = s.rt.getMany(s.source, ['a', 'b'], { mode: { kind: 'minimize_latency' }, startedAt: now, deadline: now + 5000 });
  // a: leased, loaded and filled here; b: waiting for the other replica's fill.
  for (let i = 0; i < 100 && !s.redis.store.get(key('a'))?.toString().startsWith('e|'); i++) await new Promise((r) => setTimeout(r, 5));
  await new Promise((r) => setTimeout(r, 20));
  expect(s.redis.store.has(fillLeaseKey(key('a')))).toBe(false);
  // The other replica gives b up: this read takes b's lease at its next round and loads it.
  s.redis.store.delete(fillLeaseKey(key('b')));
  expect((await both).map((l) => l?.value)).toEqual(['v9 a', 'v9 b']);
});
