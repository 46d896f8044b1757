import { generationKey } from '@settings/shared';
import { NearCache, nearPayload, payloadBytes, type NearEntry } from '../../src/cache/near-cache';

const space = 'account-settings' as const;
const entry = (version: bigint, payloadBytes = 10, generation = 7n): NearEntry => ({ space, version, generation, payload: Buffer.alloc(payloadBytes, 1) });

function setup(opts: { maxEntries?: number; maxBytes?: number } = {}) {
  const counts = { evicted: 0, refused: 0, invalidated: 0 };
  const near = new NearCache({
    maxEntries: opts.maxEntries ?? 1000,
    maxBytes: opts.maxBytes ?? 1 << 20,
    onEvict: () => (counts.evicted += 1),
    onRefused: () => (counts.refused += 1),
    onInvalidate: (_r, n) => (counts.invalidated += n),
  });
  near.setTracking(true);
  const put = (key: string, e: NearEntry): boolean => {
    const t = near.beginRead([generationKey(space), key]);
    near.installGeneration(t, space, e.generation);
    const ok = near.install(t, key, e);
    near.endRead(t);
    return ok;
  };
  return { near, counts, put };
}

it('serves an installed entry only under the generation installed with it', () => {
  const { near, put } = setup();
  expect(put('k1', entry(1n))).toBe(true);
  expect(near.get(space, 'k1')?.version).toBe(1n);
  near.invalidate([generationKey(space)]);
  expect(near.get(space, 'k1')).toBeUndefined();
  expect(near.size.entries).toBe(0);
});

it('is bounded by entries (LRU: the least recently used goes first)', () => {
  const { near, counts, put } = setup({ maxEntries: 3 });
  for (const k of ['a', 'b', 'c']) put(k, entry(1n));
  near.get(space, 'a');
  put('d', entry(1n));
  expect(near.get(space, 'b')).toBeUndefined();
  expect(near.get(space, 'a')).toBeDefined();
  expect(near.size.entries).toBe(3);
  expect(counts.evicted).toBe(1);
});

it('is bounded by bytes, counting payload, key and per-entry overhead', () => {
  const { near, put } = setup({ maxBytes: 4096 });
  for (let i = 0; i < 20; i++) put(`key-${i}`, entry(1n, 1000));
  expect(near.size.bytes).toBeLessThanOrEqual(4096);
  expect(near.size.entries).toBeLessThan(5);
  // An entry larger than the whole bound is not kept at all.
  put('huge', entry(1n, 10_000));
  expect(near.get(space, 'huge')).toBeUndefined();
});

it('refuses a reply whose key was invalidated while it was in flight, and accepts a read sent after the push', () => {
  const { near, counts } = setup();
  const t1 = near.beginRead([generationKey(space), 'k']);
  near.installGeneration(t1, space, 7n);
  near.invalidate(['k']); // the push arrives before t1's reply is installed
  expect(near.install(t1, 'k', entry(1n))).toBe(false);
  near.endRead(t1);
  expect(counts.refused).toBe(1);
  expect(near.get(space, 'k')).toBeUndefined();
  const t2 = near.beginRead(['k']);
  expect(near.install(t2, 'k', entry(2n))).toBe(true);
  near.endRead(t2);
  expect(near.get(space, 'k')?.version).toBe(2n);
});

it('refuses every reply of a read that overlapped a flush or a tracking restart, and serves nothing while tracking is off', () => {
  const { near, put } = setup();
  put('k', entry(1n));
  const t = near.beginRead(['k2']);
  near.setTracking(false);
  expect(near.get(space, 'k')).toBeUndefined();
  expect(near.install(t, 'k2', entry(1n))).toBe(false);
  near.setTracking(true);
  expect(near.install(t, 'k2', entry(1n))).toBe(false);
  near.endRead(t);
  expect(near.size.entries).toBe(0);
  const t3 = near.beginRead(['x']);
  near.flush();
  expect(near.install(t3, 'x', entry(1n))).toBe(false);
});

it('wakes a waiter on the change of its key', async () => {
  const { near } = setup();
  const started = Date.now();
  const woke = near.waitForChange('k', 10_000);
  near.invalidate(['other', 'k']);
  await woke;
  expect(Date.now() - started).toBeLessThan(5000);
});

test('a payload is kept as a copy that owns its memory and is served as the same bytes: small ones as a string, large ones as a Buffer of their own', () => {
  // Every byte value, inside a larger chunk as a socket read would deliver it.
  const chunk = Buffer.alloc(64 * 1024);
  for (let i = 0; i < chunk.length; i++) chunk[i] = (i * 37) % 256;
  const small = chunk.subarray(100, 100 + 512);
  const large = chunk.subarray(1000, 1000 + 8192);
  const want = { small: Buffer.from(small), large: Buffer.from(large) };
  const kept = { small: nearPayload(small), large: nearPayload(large) };
  expect(typeof kept.small).toBe('string');
  expect(Buffer.isBuffer(kept.large) && kept.large.buffer.byteLength === kept.large.length).toBe(true);
  chunk.fill(0); // the socket's buffer reused
  expect(payloadBytes({ ...entry(1n), payload: kept.small }).equals(want.small)).toBe(true);
  expect(payloadBytes({ ...entry(1n), payload: kept.large }).equals(want.large)).toBe(true);
});

it('a read that sees a new generation before its push drops the space and counts the drop', () => {
  const { near, counts, put } = setup();
  for (const k of ['a', 'b', 'c']) put(k, entry(1n));
  const t = near.beginRead([generationKey(space)]);
  expect(near.installGeneration(t, space, 8n)).toBe(true);
  near.endRead(t);
  expect(near.size.entries).toBe(0);
  expect(counts.invalidated).toBe(3);
});
