import type Redis from 'ioredis';
import { hashTagForSlot, invalidatorProbeKey, isRedisCluster, nodeAddress, SilentConnectionResets, type CacheRedisClient, type Logger } from '@settings/shared';

export interface RedisHealthProbeOptions {
  /** How often Redis is probed (also how soon a paused consumer resumes after Redis returns). */
  intervalMs: number;
  /** Called when the probe's connection, gone silent, is replaced (SilentConnectionReset). */
  onSilentReset?: () => void;
}

/**
 * The one answer to "is Redis healthy?" for the invalidator, from a small periodic write
 * (SET with a short TTL on the probe key), not from whichever batch happens to run next.
 *
 * Why a write and not PING: evictions are writes; a Redis that answers PING but refuses writes
 * (out of memory under `noeviction`, a read-only replica after a failover) must count as down,
 * or a paused consumer would resume into the same failure and liveness would blame itself.
 * On a Redis Cluster every master is probed (a key in a slot it serves): evictions go to all of
 * them, and one failing master must keep the consumer paused.
 */
export class RedisHealthProbe {
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private isHealthy = false;
  private readonly listeners: Array<(healthy: boolean) => void> = [];
  /**
   * The probe is the one round trip made whatever else happens: a connection whose every probe
   * timed out for 3 s (silent: nothing closed, no byte answered) is replaced. Without it the
   * consumer stayed paused for good, liveness green, until TCP keepalive noticed hours later.
   * Counted per connection (on a cluster, per master): only the silent master's is closed, the
   * others' answers do not start its count over, and ioredis' periodic slot refresh connects to
   * that master again (a cluster node's connection does not reconnect by itself).
   */
  private readonly silent: SilentConnectionResets;

  constructor(
    private readonly redis: CacheRedisClient,
    private readonly opts: RedisHealthProbeOptions,
    private readonly log: Logger,
  ) {
    this.silent = new SilentConnectionResets(log, { afterTimeouts: 3, afterMs: 3000, onReset: opts.onSilentReset });
  }

  get healthy(): boolean {
    return this.isHealthy;
  }

  /** Called after every probe with its outcome; what a listener throws is logged, not propagated. */
  onProbe(listener: (healthy: boolean) => void): void {
    this.listeners.push(listener);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    void this.tick();
  }

  stop(): void {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
  }

  /** One probe now; resolves to the new health. Exposed so tests and start-up need not wait. */
  async probe(): Promise<boolean> {
    let ok: boolean;
    try {
      ok = await this.writeProbes(Math.max(1000, this.opts.intervalMs * 5));
    } catch (err) {
      if (this.isHealthy) this.log.warn({ err: (err as Error).message }, 'Redis health probe failed');
      ok = false;
    }
    if (ok && !this.isHealthy) this.log.info('Redis health probe succeeded: Redis is healthy');
    this.isHealthy = ok;
    // A listener that throws is logged and skipped: it must neither stop the others nor reject
    // this probe (the periodic one runs as `void this.tick()`: an unhandled rejection would end
    // the process, and its loop would stop).
    for (const l of this.listeners) {
      try {
        l(ok);
      } catch (err) {
        this.log.error({ err }, 'Redis health probe listener failed');
      }
    }
    return ok;
  }

  private async tick(): Promise<void> {
    if (!this.running) return;
    await this.probe();
    if (!this.running) return;
    this.timer = setTimeout(() => void this.tick(), this.opts.intervalMs);
    this.timer.unref();
  }

  private async writeProbes(ttlMs: number): Promise<boolean> {
    const value = String(Date.now());
    const redis = this.redis;
    if (!isRedisCluster(redis)) return (await this.observed(redis, redis.set(invalidatorProbeKey(), value, 'PX', ttlMs))) === 'OK';
    // The first slot of each master in the client's slot map (`slots[slot][0]` is its master).
    const firstSlot = new Map<string, number>();
    redis.slots.forEach((owners, slot) => {
      const master = owners?.[0];
      if (master !== undefined && !firstSlot.has(master)) firstSlot.set(master, slot);
    });
    if (firstSlot.size === 0) return false;
    const connections = new Map(redis.nodes('master').map((node) => [nodeAddress(node), node]));
    // Every master's outcome is observed before the probe fails on the first error.
    const replies = await Promise.allSettled(
      [...firstSlot].map(([master, slot]) => {
        const write = redis.set(`v1:{${hashTagForSlot(slot)}}:invalidator-probe`, value, 'PX', ttlMs);
        const connection = connections.get(master);
        return connection ? this.observed(connection, write) : write;
      }),
    );
    for (const r of replies) if (r.status === 'rejected') throw r.reason;
    return replies.every((r) => r.status === 'fulfilled' && r.value === 'OK');
  }

  /** `write`'s outcome, counted for the connection it went over (see `silent`). */
  private async observed<T>(connection: Redis, write: Promise<T>): Promise<T> {
    try {
      const reply = await write;
      this.silent.observe(connection);
      return reply;
    } catch (err) {
      this.silent.observe(connection, err);
      throw err;
    }
  }
}
