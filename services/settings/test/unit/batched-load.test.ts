import type { Loaded } from '../../src/cache/read-through';
import { batchedLoad } from '../../src/db/batched-load';

/** A fake database: records each query (its keys and deadline) and answers the keys it holds. */
function fakeDb(rows: Record<string, number>, fail?: Error) {
  const queries: Array<{ keys: string[]; deadline: number }> = [];
  const load = async (keys: readonly string[], deadline: number): Promise<Map<string, Loaded<string>>> => {
    queries.push({ keys: [...keys], deadline });
    await new Promise((r) => setTimeout(r, 1));
    if (fail) throw fail;
    const out = new Map<string, Loaded<string>>();
    for (const k of keys) if (rows[k] !== undefined) out.set(`ck:${k}`, { version: BigInt(rows[k]), value: `v-${k}` });
    return out;
  };
  return { queries, load };
}

const cacheKeyOf = (k: string): string => `ck:${k}`;

it('loads issued in the same turn of the event loop share one query, each caller getting its own keys', async () => {
  const db = fakeDb({ a: 1, b: 2, c: 3 });
  const load = batchedLoad(db.load, cacheKeyOf);
  const [one, two, three] = await Promise.all([load(['a'], 1000), load(['b', 'x'], 2000), load(['c', 'a'], 1500)]);
  expect(db.queries).toHaveLength(1);
  expect(db.queries[0]!.keys.sort()).toEqual(['a', 'a', 'b', 'c', 'x']);
  expect([...one]).toEqual([['ck:a', { version: 1n, value: 'v-a' }]]);
  // A key that does not exist is absent, as from an unbatched load.
  expect([...two.keys()]).toEqual(['ck:b']);
  expect([...three.keys()].sort()).toEqual(['ck:a', 'ck:c']);
});

it('the shared query runs until the latest deadline of the callers in it', async () => {
  const db = fakeDb({ a: 1 });
  const load = batchedLoad(db.load, cacheKeyOf);
  await Promise.all([load(['a'], 1000), load(['a'], 3000), load(['a'], 2000)]);
  expect(db.queries.map((q) => q.deadline)).toEqual([3000]);
});

it('a failed query fails every caller in it', async () => {
  const db = fakeDb({}, new Error('connection terminated'));
  const load = batchedLoad(db.load, cacheKeyOf);
  const results = await Promise.allSettled([load(['a'], 1000), load(['b'], 1000)]);
  expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
  expect(db.queries).toHaveLength(1);
});

it('more keys than one query may carry go out as several queries', async () => {
  const db = fakeDb({});
  const load = batchedLoad(db.load, cacheKeyOf, 3);
  await Promise.all([load(['a', 'b'], 1), load(['c', 'd'], 1), load(['e'], 1)]);
  expect(db.queries.map((q) => q.keys.length)).toEqual([3, 2]);
});

it('loads issued after the previous batch went out make a query of their own', async () => {
  const db = fakeDb({ a: 1, b: 2 });
  const load = batchedLoad(db.load, cacheKeyOf);
  const first = load(['a'], 1);
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
  const second = load(['b'], 1);
  await Promise.all([first, second]);
  expect(db.queries.map((q) => q.keys)).toEqual([['a'], ['b']]);
});
