import { randomBytes } from 'node:crypto';
import type { CacheRedisClient } from './cache-redis';
import { generationKey, type KeySpace } from './key-map';

/**
 * Key-space generations. An entry is served only when the generation stored in it equals the
 * space's current generation, which the reader reads *before* its database read. A new
 * generation therefore turns every older entry — and every fill still in flight from before —
 * into a miss, without enumerating keys.
 *
 * Generations are random 52-bit values, never counters (two draws of one space are equal with
 * probability 2^-52: settings service README, non-guarantee 13):
 *  - a TRUNCATE sets a fresh random generation (the invalidator);
 *  - a Redis that restarted empty has no generation: the first reader creates one with
 *    `SET NX`, so every reader agrees on it, and a fill carrying a generation read before the
 *    restart can never match it (a counter would restart at 0 and match again);
 *  - a Redis that came back with old data (failover to a lagging replica, restore of a
 *    snapshot) gets fresh generations from the incarnation check (redis-incarnation.ts).
 *
 * 52 random bits: exact in a Lua double and a JS number, and a collision between two
 * generations of one space is a 2^-52 event.
 */
export function newGeneration(): string {
  const n = randomBytes(8).readBigUInt64BE() & ((1n << 52n) - 1n);
  return (n + 1n).toString();
}

/**
 * The space's current generation, created (`SET NX GET`, atomic) when Redis has none. Must run
 * before the database read whose result will be filled under it.
 */
export async function establishGeneration(redis: CacheRedisClient, space: KeySpace, current: string | null): Promise<string> {
  if (current !== null) return current;
  const candidate = newGeneration();
  // SET ... NX GET returns the value that was there (another reader won) or null (ours is set).
  const previous = (await redis.call('SET', generationKey(space), candidate, 'NX', 'GET')) as string | null;
  return previous ?? candidate;
}
