import type Redis from 'ioredis';
import type { Logger } from '../observability/logger';
import { nodeAddress } from './cache-redis';

/** What ioredis' command timeout rejects with (stall-aware-command-timeout.ts keeps the text). */
export function isCommandTimeout(err: unknown): boolean {
  return err instanceof Error && err.message === 'Command timed out';
}

export interface SilentConnectionResetOptions {
  /** Timed-out round trips in a row, with no answer between them, before the connection is replaced. */
  readonly afterTimeouts: number;
  /** ... and at least this long since the first of them (one stall times many commands out at once). */
  readonly afterMs: number;
  /** Called on every replacement (a metric: replacements that recur mean the path keeps dropping flows). */
  readonly onReset?: () => void;
  readonly now?: () => number;
}

/**
 * Replaces a Redis connection that went silent: no byte either way and nothing closed (a NAT,
 * firewall or load balancer that dropped the flow, a failover behind a virtual IP). Every
 * command then times out, and nothing else notices: ioredis reconnects only on a close, and the
 * operating system's TCP keepalive starts after two hours. Fed the outcome of round trips on
 * one connection (the invalidator's health probe and stream reads, the settings service's PING
 * per data connection: services/settings/src/cache/redis-node-heartbeat.ts); any
 * answer, error replies included, proves the connection carries bytes and starts the count over.
 * A slow Redis answers some commands in time, so it is not reconnected over and over.
 */
export class SilentConnectionReset {
  private timeouts = 0;
  private firstAt = 0;
  private readonly now: () => number;

  constructor(
    private readonly reconnect: () => void,
    private readonly log: Logger,
    private readonly opts: SilentConnectionResetOptions,
  ) {
    this.now = opts.now ?? Date.now;
  }

  /** One round trip's outcome: `err` undefined when it was answered. */
  observe(err?: unknown): void {
    if (!isCommandTimeout(err)) {
      this.timeouts = 0;
      return;
    }
    if (this.timeouts === 0) this.firstAt = this.now();
    this.timeouts += 1;
    const silentMs = this.now() - this.firstAt;
    if (this.timeouts < this.opts.afterTimeouts || silentMs < this.opts.afterMs) return;
    this.log.warn({ timeouts: this.timeouts, silentMs }, 'Redis connection silent (every round trip timed out, nothing closed): replacing it');
    this.timeouts = 0;
    this.opts.onReset?.();
    this.reconnect();
  }
}

/**
 * One SilentConnectionReset per connection (on a Redis Cluster, per master's): each connection
 * is judged on its own answers, so another master's answers do not start a silent one's count
 * over, and only the silent connection is closed (`disconnect(true)`; a cluster node's
 * connection does not reconnect by itself: ioredis' slot refresh connects to the node again).
 * Weak: ioredis makes a new connection object for a node it forgets and learns again.
 */
export class SilentConnectionResets {
  private readonly resets = new WeakMap<Redis, SilentConnectionReset>();

  constructor(
    private readonly log: Logger,
    private readonly opts: SilentConnectionResetOptions,
  ) {}

  /** One round trip's outcome on `connection`: `err` undefined when it was answered. */
  observe(connection: Redis, err?: unknown): void {
    let reset = this.resets.get(connection);
    if (!reset) {
      const log = this.log.child({ node: nodeAddress(connection) });
      reset = new SilentConnectionReset(() => connection.disconnect(true), log, this.opts);
      this.resets.set(connection, reset);
    }
    reset.observe(err);
  }
}
