import DataLoader from 'dataloader';
import type { Loaded } from '../cache/read-through';

/** Reads the resources of `keys` (missing ones do not exist), by cache key; `deadline` is epoch ms. */
export type KeyedLoad<K, T> = (keys: readonly K[], deadline: number) => Promise<Map<string, Loaded<T>>>;

/**
 * What the batch's one query found, by cache key: a key's resource, or the Error its row gave
 * (a row that cannot be turned into a message fails the callers of that key only).
 */
export type KeyedBatchLoad<K, T> = (keys: readonly K[], deadline: number) => Promise<Map<string, Loaded<T> | Error>>;

/** Most keys in one query; more concurrent misses go out as several. */
export const MAX_KEYS_PER_QUERY = 256;

interface KeyRequest<K> {
  readonly key: K;
  readonly cacheKey: string;
  readonly deadline: number;
}

/**
 * Cache misses that arrive together read PostgreSQL together: every `load` issued until the
 * event loop's next check phase (setImmediate) joins one query for all their keys (DataLoader,
 * no caching). On this service's hot path a query costs far more than a key: the knex build, a
 * pool checkout, a socket write that wakes PostgreSQL, its parse and plan, the reply's parse —
 * measured in the incident replay's cold start, PostgreSQL round trips were a fifth of the
 * service's CPU while each read one row. One query per miss is what makes a process that falls
 * behind fall further behind; batched, the more misses wait, the fewer queries they cost.
 *
 * What does not change: a caller still gets the rows of its own keys only, read by a query
 * that started after it asked (the fence's read start is taken before `load`, so a batch can
 * only make it earlier than the snapshot, never later); a failed query fails every caller in
 * it, as it would have failed each alone, and a row that cannot be mapped fails only the
 * callers of its key (DataLoader takes an Error per key). What does: the query runs until the latest deadline
 * in the batch (Infinity when a caller set none, then capped at DB_STATEMENT_TIMEOUT_MS), so a
 * caller whose deadline passes first gets DEADLINE_EXCEEDED from gRPC while the query it shares
 * goes on for the others, where alone it would have been cancelled at that deadline.
 */
export function batchedLoad<K, T>(load: KeyedBatchLoad<K, T>, cacheKeyOf: (key: K) => string, maxKeys = MAX_KEYS_PER_QUERY): KeyedLoad<K, T> {
  const loader = new DataLoader<KeyRequest<K>, Loaded<T> | undefined>(
    async (requests) => {
      let deadline = 0;
      for (const r of requests) deadline = Math.max(deadline, r.deadline);
      // `load` reads a key asked for twice once.
      const found = await load(requests.map((r) => r.key), deadline);
      return requests.map((r) => found.get(r.cacheKey));
    },
    { cache: false, maxBatchSize: maxKeys, batchScheduleFn: (dispatch) => setImmediate(dispatch) },
  );
  return async (keys, deadline) => {
    const requests = keys.map((key) => ({ key, cacheKey: cacheKeyOf(key), deadline }));
    const results = await loader.loadMany(requests);
    const out = new Map<string, Loaded<T>>();
    results.forEach((result, i) => {
      if (result instanceof Error) throw result;
      if (result !== undefined) out.set(requests[i]!.cacheKey, result);
    });
    return out;
  };
}
