import { createLogger, defaultCacheTiming, generationKey } from '@settings/shared';
import { CircuitBreaker } from '../../src/cache/circuit-breaker';
import { ConcurrencyLimiter } from '../../src/cache/concurrency-limiter';
import { ReadThrough, type Loaded, type ReadSource } from '../../src/cache/read-through';
import type { CacheRedis } from '../../src/cache/redis-client';
import type { ReadMode } from '../../src/consistency/read-mode';
import { NearCache } from '../../src/cache/near-cache';
import { createSettingsMetrics } from '../../src/metrics';

/** The read path against an in-memory stand-in for Redis whose failures the test controls. */
class FakeRedis {
  store = new Map<string, Buffer>();
  down = false;
  calls = 0;
  private op<T>(fn: () => T): Promise<T> {
    this.calls += 1;
    return this.down ? Promise.reject(new Error('Command timed out')) : Promise.resolve(fn());
  }
  get(key: string) {
    return this.op(() => this.store.get(key)?.toString('latin1') ?? null);
  }
  getBuffer(key: string) {
    return this.op(() => this.store.get(key) ?? null);
  }
  mgetBuffer(...keys: string[]) {
    return this.op(() => keys.map((key) => this.store.get(key) ?? null));
  }
  /** Only `SET key value NX GET` is sent through call() (establishGeneration). */
  call(_cmd: 'SET', key: string, value: string) {
    return this.op(() => {
      const prev = this.store.get(key)?.toString('latin1') ?? null;
      if (prev === null) this.store.set(key, Buffer.from(value));
      return prev;
    });
  }
  versionedFill(key: string, version: string, generation: string, _ttl: number, payload: Buffer, _markerTtl: number) {
    return this.op(() => {
      const cur = this.store.get(key)?.toString('latin1');
      const floor = cur?.startsWith('m|') ? BigInt(cur.slice(2)) : undefined;
      if (floor !== undefined && floor > BigInt(version)) return 0;
      this.store.set(key, Buffer.concat([Buffer.from(`e|${version}|${generation}|`), payload]));
      return 1;
    });
  }
}

function setup(opts: { fallbackMax?: number; near?: NearCache } = {}) {
  const redis = new FakeRedis();
  const metrics = createSettingsMetrics();
  const breaker = new CircuitBreaker({ failureThreshold: 2, openMs: 60_000 });
  const rt = new ReadThrough({
    redis: redis as unknown as CacheRedis,
    breaker,
    fallbackLimiter: new ConcurrencyLimiter(opts.fallbackMax ?? 8),
    metrics,
    timing: defaultCacheTiming,
    log: createLogger('test', 'silent'),
    ...(opts.near ? { near: opts.near } : {}),
  });
  const db = new Map<string, { version: bigint; value: string }>();
  let loads = 0;
  let gate: Promise<void> | undefined;
  const source: ReadSource<string, string> = {
    space: 'account-settings',
    cacheKey: (k) => ({ key: `k:${k}`, space: 'account-settings' }),
    encode: (v) => Buffer.from(v),
    decode: (b) => b.toString(),
    async load(keys) {
      loads += 1;
      await gate;
      const out = new Map<string, Loaded<string>>();
      for (const k of keys) if (db.has(k)) out.set(`k:${k}`, db.get(k)!);
      return out;
    },
  };
  const read = (key: string, mode: ReadMode = { kind: 'minimize_latency' }) => rt.get(source, key, { mode, startedAt: Date.now(), deadline: Date.now() + 5000 });
  const hold = (p: Promise<void> | undefined): void => {
    gate = p;
  };
  return { rt, redis, metrics, breaker, db, source, read, loads: () => loads, hold };
}
const tick = () => new Promise((r) => setImmediate(r));

it('fills with the generation read before the query, then serves hits; another generation is a miss', async () => {
  const s = setup();
  s.db.set('a', { version: 5n, value: 'five' });
  s.redis.store.set(generationKey('account-settings'), Buffer.from('3'));
  expect((await s.read('a'))?.value).toBe('five');
  await tick();
  expect(s.redis.store.get('k:a')?.toString()).toBe('e|5|3|five');
  expect((await s.read('a'))?.value).toBe('five');
  expect(s.loads()).toBe(1);
  // A finished load stays joinable for one more event-loop turn; let it go.
  await tick();
  await tick();
  s.redis.store.set(generationKey('account-settings'), Buffer.from('4'));
  await s.read('a');
  expect(s.loads()).toBe(2);
});

it('at_least_as_fresh skips an older entry; fully_consistent never looks at Redis', async () => {
  const s = setup();
  s.db.set('a', { version: 9n, value: 'nine' });
  s.redis.store.set(generationKey('account-settings'), Buffer.from('7'));
  s.redis.store.set('k:a', Buffer.from('e|5|7|five'));
  expect((await s.read('a', { kind: 'at_least_as_fresh', token: { version: 5n, listVersion: 5n } }))?.value).toBe('five');
  expect((await s.read('a', { kind: 'at_least_as_fresh', token: { version: 9n, listVersion: 9n } }))?.value).toBe('nine');
  const callsBefore = s.redis.calls;
  await tick();
  const afterFill = s.redis.calls;
  expect((await s.read('a', { kind: 'fully_consistent' }))?.value).toBe('nine');
  await tick();
  expect(s.redis.calls).toBe(afterFill);
  expect(afterFill).toBeGreaterThanOrEqual(callsBefore);
});

it('a failing Redis sends reads to the database and opens the breaker, after which Redis is not called', async () => {
  const s = setup();
  s.db.set('a', { version: 1n, value: 'one' });
  s.redis.down = true;
  await s.read('a');
  await s.read('a');
  expect(s.breaker.state).toBe('open');
  const calls = s.redis.calls;
  for (let i = 0; i < 5; i++) expect((await s.read('a'))?.value).toBe('one');
  expect(s.redis.calls).toBe(calls);
  expect((await s.metrics.fallback.get()).values[0]?.value).toBe(7);
});

it('one failed MGET shared by many calls counts as one failure: it does not open the breaker alone', async () => {
  const s = setup({ fallbackMax: 16 }); // failureThreshold 2
  for (const k of ['a', 'b', 'c', 'd', 'e']) s.db.set(k, { version: 1n, value: k });
  s.redis.down = true;
  // Five calls in one turn of the event loop: one MGET, which fails.
  const reads = ['a', 'b', 'c', 'd', 'e'].map((k) => s.read(k));
  expect((await Promise.all(reads)).map((r) => r?.value)).toEqual(['a', 'b', 'c', 'd', 'e']);
  expect(s.breaker.state).toBe('closed');
  // A second failed round trip is the second consecutive failure.
  await s.read('a');
  expect(s.breaker.state).toBe('open');
});

it('the fills of one load that fail together count as one Redis failure: a BatchGet of cold keys does not open the breaker alone', async () => {
  const s = setup(); // failureThreshold 2
  for (const k of ['a', 'b', 'c', 'd', 'e']) s.db.set(k, { version: 1n, value: k });
  let open!: () => void;
  s.hold(new Promise<void>((r) => (open = r)));
  const many = s.rt.getMany(s.source, ['a', 'b', 'c', 'd', 'e'], { mode: { kind: 'minimize_latency' }, startedAt: Date.now(), deadline: Date.now() + 5000 });
  await tick();
  s.redis.down = true; // a stall after the lookup: the five fills fail
  open();
  expect((await many).map((l) => l?.value)).toEqual(['a', 'b', 'c', 'd', 'e']);
  await tick();
  expect(s.breaker.state).toBe('closed');
});

it('a fully_consistent read never joins a load claimed before it began, even when the wall clock stepped back in between', async () => {
  const s = setup();
  s.db.set('a', { version: 1n, value: 'one' });
  let open!: () => void;
  s.hold(new Promise<void>((r) => (open = r)));
  const first = s.read('a');
  await tick();
  // NTP stepped the clock back 300 ms: this call's arrival is stamped before the running load's start.
  const at = Date.now() - 300;
  const strong = s.rt.get(s.source, 'a', { mode: { kind: 'fully_consistent' }, startedAt: at, deadline: at + 5000 });
  await tick();
  open();
  await Promise.all([first, strong]);
  expect(s.loads()).toBe(2);
});

it('sheds load when the fallback limit is full, without queueing, and coalesces same-key reads', async () => {
  const s = setup({ fallbackMax: 1 });
  s.db.set('a', { version: 1n, value: 'one' });
  s.db.set('b', { version: 1n, value: 'two' });
  s.redis.down = true;
  let open!: () => void;
  s.hold(new Promise<void>((r) => (open = r)));
  const first = s.read('a');
  const sameKey = s.read('a');
  await tick();
  await expect(s.read('b')).rejects.toMatchObject({ code: 'LOAD_SHED' });
  open();
  expect([(await first)?.value, (await sameKey)?.value]).toEqual(['one', 'one']);
  expect(s.loads()).toBe(1);
  expect((await s.metrics.loadShed.get()).values[0]?.value).toBe(1);
});

it('a Redis without a generation gets a new random one before the database read; old entries are misses', async () => {
  const s = setup();
  s.db.set('a', { version: 9n, value: 'nine' });
  // An entry filled before Redis lost its generation key (restart), under some old generation.
  s.redis.store.set('k:a', Buffer.from('e|5|0|five'));
  expect((await s.read('a'))?.value).toBe('nine');
  const created = s.redis.store.get(generationKey('account-settings'))?.toString();
  expect(created).toMatch(/^[1-9]\d*$/);
  expect(created).not.toBe('0');
  await tick();
  // The fill used the new generation, so the next read is a hit.
  expect(s.redis.store.get('k:a')?.toString()).toBe(`e|9|${created}|nine`);
  expect((await s.read('a'))?.value).toBe('nine');
  expect(s.loads()).toBe(1);
});

it('without the near-cache, a Redis hit carries its payload and decodes only when its value is read, once', async () => {
  const s = setup();
  let decodes = 0;
  const counting: ReadSource<string, string> = { ...s.source, decode: (b) => (decodes++, b.toString()) };
  s.redis.store.set(generationKey('account-settings'), Buffer.from('3'));
  s.redis.store.set('k:a', Buffer.from('e|5|3|five'));
  const hit = await s.rt.read(counting, 'a', { mode: { kind: 'minimize_latency' }, startedAt: Date.now(), deadline: Date.now() + 5000 });
  // A Get writes these bytes to the wire (pre-encoded-response.ts) and never reads `value`.
  expect(hit?.payload?.toString()).toBe('five');
  expect(hit?.version).toBe(5n);
  expect(decodes).toBe(0);
  expect(hit?.value).toBe('five');
  expect(hit?.value).toBe('five');
  expect(decodes).toBe(1);
  expect((await s.metrics.cacheRequests.get()).values.map((v) => [v.labels.result, v.value])).toEqual([['hit', 1]]);
});

it('without the near-cache, an entry that does not decode is read from the database by every reader of values (BatchGet, List, Watch), not failed later', async () => {
  const s = setup();
  const strict: ReadSource<string, string> = {
    ...s.source,
    decode: (b) => {
      if (b.toString() === 'garbled') throw new RangeError('index out of range');
      return b.toString();
    },
  };
  s.db.set('a', { version: 5n, value: 'five' });
  s.redis.store.set(generationKey('account-settings'), Buffer.from('3'));
  s.redis.store.set('k:a', Buffer.from('e|5|3|garbled'));
  const req = () => ({ mode: { kind: 'minimize_latency' } as ReadMode, startedAt: Date.now(), deadline: Date.now() + 5000 });
  expect((await s.rt.get(strict, 'a', req()))?.value).toBe('five');
  await tick();
  await tick();
  s.redis.store.set('k:a', Buffer.from('e|5|3|garbled'));
  expect((await s.rt.getMany(strict, ['a'], req()))[0]?.value).toBe('five');
});

it('read answers a near-cache hit synchronously, and a miss asks the near-cache once before Redis', async () => {
  const near = new NearCache({ maxEntries: 100, maxBytes: 1 << 20 });
  near.setTracking(true);
  const s = setup({ near });
  s.db.set('a', { version: 3n, value: 'A3' });
  const req = () => ({ mode: { kind: 'minimize_latency' } as ReadMode, startedAt: Date.now(), deadline: Date.now() + 5000 });
  const nearCounts = async () => Object.fromEntries((await s.metrics.nearCacheRequests.get()).values.map((v) => [v.labels.result, v.value]));

  const first = s.rt.read(s.source, 'a', req()); // database, fill
  expect(first).toBeInstanceOf(Promise);
  expect((await first)?.value).toBe('A3');
  const second = s.rt.read(s.source, 'a', req()); // Redis hit, installed in the near-cache
  expect(second).toBeInstanceOf(Promise);
  expect((await second)?.value).toBe('A3');
  expect(await nearCounts()).toEqual({ miss: 2 });

  const third = s.rt.read(s.source, 'a', req());
  expect(third).not.toBeInstanceOf(Promise);
  expect((third as Loaded<string>).value).toBe('A3');
  expect(await nearCounts()).toEqual({ miss: 2, hit: 1 });
  // fully_consistent never answers from the near-cache.
  const strong = s.rt.read(s.source, 'a', { ...req(), mode: { kind: 'fully_consistent' } });
  expect(strong).toBeInstanceOf(Promise);
  await strong;
  expect(await nearCounts()).toEqual({ miss: 2, hit: 1 });
  // The entry owns its memory: a small payload is a string (no shared 8 KiB pool slab, no
  // socket chunk kept alive behind it, no ArrayBuffer of its own), served as the same bytes.
  const held = near.get('account-settings', 'k:a')!;
  expect(typeof held.payload).toBe('string');
  expect((third as Loaded<string>).payload?.toString()).toBe('A3');
});

describe('a read that joins a load already in flight', () => {
  /** A source whose first load reads the row, then stalls until `release` (a slow query). */
  function slowFirstLoad(s: ReturnType<typeof setup>) {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let first = true;
    const source: ReadSource<string, string> = {
      ...s.source,
      async load(keys) {
        const snapshot = new Map(s.db);
        if (first) {
          first = false;
          await gate;
        }
        const out = new Map<string, Loaded<string>>();
        for (const k of keys) if (snapshot.has(k)) out.set(`k:${k}`, snapshot.get(k)!);
        return out;
      },
    };
    const read = (key: string) => s.rt.get(source, key, { mode: { kind: 'minimize_latency' }, startedAt: Date.now(), deadline: Date.now() + 5000 });
    return { read, release: () => release() };
  }

  /** R1 misses `a` under generation 3; its load reads v5 and stalls. */
  async function firstReadStalled() {
    const s = setup();
    const slow = slowFirstLoad(s);
    s.redis.store.set(generationKey('account-settings'), Buffer.from('3'));
    s.db.set('a', { version: 5n, value: 'five' });
    const r1 = slow.read('a');
    await tick();
    return { s, slow, r1 };
  }

  it('never answers a version older than another generation\'s entry it found in Redis (another release refilled the key)', async () => {
    const { s, slow, r1 } = await firstReadStalled();
    // v6 commits; a replica of another release (payload format) loads it and fills over the marker.
    s.db.set('a', { version: 6n, value: 'six' });
    s.redis.store.set('k:a', Buffer.from('e|6|999|six'));
    const r2 = slow.read('a');
    await tick();
    slow.release();
    expect((await r1)?.value).toBe('five');
    expect((await r2)?.value).toBe('six');
  });

  it('does not take a joined load claimed before its lookup found the marker: that load may predate the change', async () => {
    const { s, slow, r1 } = await firstReadStalled();
    s.db.set('a', { version: 6n, value: 'six' });
    s.redis.store.set('k:a', Buffer.from('m|6'));
    const r2 = slow.read('a');
    await tick();
    slow.release();
    expect((await r1)?.value).toBe('five');
    expect((await r2)?.value).toBe('six');
  });

  it('concurrent reads that found the same marker share one load, an absence of a deleted row included', async () => {
    const s = setup();
    s.redis.store.set(generationKey('account-settings'), Buffer.from('3'));
    s.redis.store.set('k:a', Buffer.from('m|6')); // the row (v5) deleted: its marker one above
    const got = await Promise.all(Array.from({ length: 30 }, () => s.read('a')));
    expect(got.every((g) => g === undefined)).toBe(true);
    expect(s.loads()).toBe(1);
    // A row at the marker's version is shared too.
    s.redis.store.set('k:b', Buffer.from('m|7'));
    s.db.set('b', { version: 7n, value: 'seven' });
    const before = s.loads();
    expect((await Promise.all(Array.from({ length: 30 }, () => s.read('b')))).map((g) => g?.value)).toEqual(Array(30).fill('seven'));
    expect(s.loads()).toBe(before + 1);
  });

  it('does not join a load started under another generation (a TRUNCATE renewed it in between)', async () => {
    const { s, slow, r1 } = await firstReadStalled();
    s.db.delete('a');
    s.redis.store.set(generationKey('account-settings'), Buffer.from('4'));
    const r2 = slow.read('a');
    await tick();
    slow.release();
    expect((await r1)?.value).toBe('five');
    expect(await r2).toBeUndefined();
  });
});

describe('a token read of a key Redis never holds (served, not cached: a staff list with no row)', () => {
  /** A source whose rows are never cached; each load reads a snapshot, then waits for `release`. */
  function uncachedSource(s: ReturnType<typeof setup>) {
    let loads = 0;
    let release!: () => void;
    let gate = new Promise<void>((r) => (release = r));
    const source: ReadSource<string, string> = {
      ...s.source,
      async load(keys) {
        loads += 1;
        const snapshot = new Map(s.db);
        await gate;
        const out = new Map<string, Loaded<string>>();
        for (const k of keys) if (snapshot.has(k)) out.set(`k:${k}`, { ...snapshot.get(k)!, cacheable: false });
        return out;
      },
    };
    const read = (key: string, mode: ReadMode, extra: { joinsOnlyLaterLoads?: boolean } = {}) =>
      s.rt.get(source, key, { mode, startedAt: Date.now(), deadline: Date.now() + 5000, ...extra });
    const releaseAll = (): void => {
      release();
      gate = Promise.resolve();
    };
    return { read, releaseAll, loads: () => loads };
  }
  const token = (version: bigint): ReadMode => ({ kind: 'at_least_as_fresh', token: { version, listVersion: version } });

  it('a token read joins the load in flight when its answer reaches the token: one query for a flood', async () => {
    const s = setup();
    s.db.set('a', { version: 5n, value: 'five' });
    const u = uncachedSource(s);
    const first = u.read('a', token(5n));
    await tick();
    const flood = Array.from({ length: 20 }, () => u.read('a', token(5n)));
    await tick();
    u.releaseAll();
    const answers = await Promise.all([first, ...flood]);
    expect(answers.every((a) => a?.value === 'five')).toBe(true);
    expect(u.loads()).toBe(1);
  });

  /** A default read's load of `a` runs, having read v5; v6 commits meanwhile. */
  async function loadOfFiveRunning() {
    const s = setup();
    s.db.set('a', { version: 5n, value: 'five' });
    const u = uncachedSource(s);
    const first = u.read('a', { kind: 'minimize_latency' });
    await tick();
    s.db.set('a', { version: 6n, value: 'six' });
    return { u, first };
  }

  it('a token read does not take a joined load\'s answer older than its token: it loads again', async () => {
    const { u, first } = await loadOfFiveRunning();
    const fresher = u.read('a', token(6n));
    await tick();
    u.releaseAll();
    expect((await first)?.value).toBe('five');
    expect((await fresher)?.value).toBe('six');
    expect(u.loads()).toBe(2);
  });

  it('a Watch re-read (joinsOnlyLaterLoads) never joins a load that started before it, whatever its version', async () => {
    const { u, first } = await loadOfFiveRunning();
    // Arrives a millisecond later than the running load started (clocks here count whole ms).
    await new Promise((r) => setTimeout(r, 2));
    const reread = u.read('a', token(0n), { joinsOnlyLaterLoads: true });
    await tick();
    u.releaseAll();
    expect((await first)?.value).toBe('five');
    expect((await reread)?.value).toBe('six');
  });
});
