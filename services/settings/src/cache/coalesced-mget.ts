import DataLoader from 'dataloader';

/** The one command this needs from the cache client. */
export interface MgetClient {
  mgetBuffer(...keys: string[]): Promise<Array<Buffer | null>>;
}

/** Most calls' lookups in one MGET (a call names at most a BatchGet's 100 keys and a generation). */
export const MAX_LOOKUPS_PER_MGET = 64;

/**
 * One MGET for the cache lookups of every call that arrived in one turn of the event loop.
 *
 * A saturated replica answers thousands of cache reads a second, and grpc-js hands each call to
 * its handler in a callback of its own, so auto-pipelining (which merges commands sent before the
 * next `process.nextTick`) still sends one MGET per call: a Command object, a write and a reply
 * to parse each. Lookups are batched instead the way cache misses are (db/batched-load.ts:
 * DataLoader, no caching, dispatched in the check phase, `setImmediate`, right after the poll
 * phase that delivered the calls): a lone call waits for nothing, calls that arrived together
 * share one command, and a key several of them read (the space's generation, a hot account) is
 * named once in it.
 *
 * What a lookup sees does not change: a call's keys are one DataLoader key, so they are always
 * read by one MGET, at one instant, after the caller took its near-cache ticket (near-cache.ts),
 * and an invalidation that arrives before the reply still refuses the install; a failed MGET
 * fails every lookup in it.
 */
export class CoalescedMget {
  private readonly loader: DataLoader<readonly string[], Array<Buffer | null>>;

  constructor(redis: MgetClient, maxLookups = MAX_LOOKUPS_PER_MGET) {
    this.loader = new DataLoader(
      async (lookups) => {
        if (lookups.length === 1) return [await redis.mgetBuffer(...lookups[0]!)];
        // Each distinct key once; every lookup reads its keys' positions in the one reply.
        const position = new Map<string, number>();
        const distinct: string[] = [];
        const positions = lookups.map((keys) =>
          keys.map((key) => {
            let p = position.get(key);
            if (p === undefined) {
              p = distinct.push(key) - 1;
              position.set(key, p);
            }
            return p;
          }),
        );
        const values = await redis.mgetBuffer(...distinct);
        return positions.map((ps) => ps.map((p) => values[p] ?? null));
      },
      { cache: false, maxBatchSize: maxLookups, batchScheduleFn: (dispatch) => setImmediate(dispatch) },
    );
  }

  /** The values of `keys`, in order (null where Redis has none). */
  mget(keys: readonly string[]): Promise<Array<Buffer | null>> {
    return this.loader.load(keys);
  }
}
