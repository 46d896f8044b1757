import Redis from 'ioredis';
import { withCacheScripts, type CacheScriptCommands } from './cache-scripts';

export type CacheRedis = Redis & CacheScriptCommands;

export interface CacheRedisOptions {
  /** Upper bound of one command; a slow Redis costs a caller at most this. */
  commandTimeoutMs: number;
  /**
   * Merge concurrent commands into pipelines. The settings service wants it (many small
   * independent reads); the invalidator does not, because it builds and paces its own pipelines.
   */
  autoPipelining: boolean;
  /** Connect only on `connect()`, so start-up can await (and log) the first connection. */
  lazyConnect?: boolean;
}

/**
 * The cache client of both services, with the cache's Lua scripts registered. It fails fast:
 * no offline queue, no per-command retries and a command timeout, so while Redis is down a
 * command fails at once instead of waiting in memory (the settings service then reads
 * PostgreSQL, the invalidator pauses its consumer and retries its evictions itself).
 * Reconnection continues in the background with exponential backoff capped at 2 s, so a
 * restarted Redis is in use again within about 2 s.
 */
export function createCacheRedis(url: string, opts: CacheRedisOptions): CacheRedis {
  const redis = new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: opts.commandTimeoutMs,
    enableAutoPipelining: opts.autoPipelining,
    lazyConnect: opts.lazyConnect ?? false,
    // A connection attempt to a host that does not answer must not hold a reconnect for ioredis' default 10 s.
    connectTimeout: 1000,
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 6), 2000),
    // A subscriber (the settings service's invalidation listener) re-subscribes itself after a
    // reconnect: it must read its new CLIENT ID first, which RESP2 forbids once subscribed.
    autoResubscribe: false,
  });
  return withCacheScripts(redis);
}
