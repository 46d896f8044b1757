import { dataServers, SilentConnectionResets, type CacheRedisClient, type Logger } from '@settings/shared';

/** As often as the near-cache's tracking heartbeat (invalidation-tracking.ts): one PING per connection per second. */
export const REDIS_HEARTBEAT_MS = 1000;

export interface RedisNodeHeartbeatOptions {
  /** How often every data connection is sent a PING. */
  readonly intervalMs: number;
  /** Called when a connection gone silent is replaced (a metric). */
  readonly onReset?: () => void;
}

/**
 * A PING on every data connection (the one server's, or each master's of a cluster) once per
 * interval, each connection's outcomes counted apart (SilentConnectionReset): a connection gone
 * silent (nothing closed, every round trip timed out for 3 s) is replaced, that one only.
 *
 * Why not count the reads' own round trips: on a cluster, answers from the other masters kept
 * starting the count over, so a silent master's connection was never replaced; and once the
 * incarnation check had failed on it (it times out like everything else there), the cache was
 * not trusted, no read went to Redis, and nothing counted at all: every read went to PostgreSQL
 * for good (silent-redis-cluster-node.test.ts). A PING also notices a silent connection on an
 * idle replica before a caller pays for it.
 */
export class RedisNodeHeartbeat {
  private readonly silent: SilentConnectionResets;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly redis: CacheRedisClient,
    log: Logger,
    opts: RedisNodeHeartbeatOptions,
  ) {
    this.silent = new SilentConnectionResets(log, { afterTimeouts: 3, afterMs: 3000, onReset: opts.onReset });
    this.timer = setInterval(() => this.beat(), opts.intervalMs).unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private beat(): void {
    for (const node of dataServers(this.redis)) {
      // Connecting or reconnecting: ioredis queues the PING, and a silence is not what holds it up.
      if (node.status !== 'ready') continue;
      node.ping().then(
        () => this.silent.observe(node),
        (err: unknown) => this.silent.observe(node, err),
      );
    }
  }
}
