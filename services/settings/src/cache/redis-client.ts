import { createCacheRedis, type CacheRedis, type Logger } from '@settings/shared';

export type { CacheRedis };

/**
 * The shared fail-fast cache client (see createCacheRedis) with auto-pipelining, because the
 * read path sends many small independent commands, and a log line per transition between
 * reachable and unreachable rather than one per reconnect attempt.
 */
export function createSettingsRedis(url: string, commandTimeoutMs: number, log: Logger): CacheRedis {
  const redis = createCacheRedis(url, { commandTimeoutMs, autoPipelining: true });
  let healthy: boolean | undefined;
  redis.on('ready', () => {
    if (healthy !== true) log.info('redis connected');
    healthy = true;
  });
  redis.on('error', (err: Error) => {
    if (healthy !== false) log.warn({ err: err.message }, 'redis unavailable; reads fall back to PostgreSQL');
    healthy = false;
  });
  return redis;
}

/**
 * The near-cache's invalidation subscriber (invalidation-tracking.ts): the same fail-fast client,
 * without auto-pipelining (it only sends CLIENT ID and SUBSCRIBE), on its own connection because
 * RESP2 delivers tracking pushes to a connection in subscriber mode.
 */
export function createInvalidationSubscriber(url: string, commandTimeoutMs: number, log: Logger): CacheRedis {
  const subscriber = createCacheRedis(url, { commandTimeoutMs, autoPipelining: false });
  // Reconnects are logged by the tracking state changes; this only keeps errors from being unhandled.
  subscriber.on('error', (err: Error) => log.debug({ err: err.message }, 'invalidation subscriber error'));
  return subscriber;
}
