import Redis from 'ioredis';
import { withCacheScripts, type CacheScriptCommands, type Logger } from '@settings/shared';

export type CacheRedis = Redis & CacheScriptCommands;

/**
 * A Redis client that fails fast: no offline queue and a short command timeout, so a dead or
 * slow Redis costs a request at most one timeout (and nothing once the breaker is open).
 * Reconnection continues in the background with capped backoff.
 */
export function createCacheRedis(url: string, commandTimeoutMs: number, log: Logger): CacheRedis {
  const redis = new Redis(url, {
    enableOfflineQueue: false,
    commandTimeout: commandTimeoutMs,
    maxRetriesPerRequest: 0,
    enableAutoPipelining: true,
    connectTimeout: 1000,
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 6), 2000),
  });
  // Log transitions, not every reconnect attempt.
  let healthy: boolean | undefined;
  redis.on('ready', () => {
    if (healthy !== true) log.info('redis connected');
    healthy = true;
  });
  redis.on('error', (err: Error) => {
    if (healthy !== false) log.warn({ err: err.message }, 'redis unavailable; reads fall back to PostgreSQL');
    healthy = false;
  });
  return withCacheScripts(redis);
}
