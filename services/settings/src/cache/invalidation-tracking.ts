import type Redis from 'ioredis';
import { serverRunId, TRACKED_KEY_PREFIXES, type Logger } from '@settings/shared';
import type { NearCache } from './near-cache';

export const INVALIDATION_CHANNEL = '__redis__:invalidate';

export type TrackingState = 'off' | 'on';

/** What the app and tests see of tracking, on one Redis (this file) or a cluster (cluster-invalidation-tracking.ts). */
export interface NearCacheTracking {
  readonly state: TrackingState;
  /** The CLIENT ID pushes are redirected to (one Redis only; undefined on a cluster or while off). */
  readonly redirectId: string | undefined;
  /** Resolves true once tracking is on, false after `timeoutMs`. */
  waitOn(timeoutMs: number): Promise<boolean>;
  /** Stops heartbeats (and, on a cluster, closes the per-master connections). */
  close(): void;
}

/**
 * One `__redis__:invalidate` message: an array of changed keys, or nil for "everything may have
 * changed" (FLUSHALL/FLUSHDB). Shared by both tracking variants.
 */
export function applyInvalidationMessage(near: NearCache, changes: KeyChangeSink | undefined, channel: Buffer, message: unknown, on: boolean): void {
  if (channel.toString() !== INVALIDATION_CHANNEL) return;
  if (Array.isArray(message)) {
    const keys = message.map((k: Buffer | string) => k.toString());
    near.invalidate(keys);
    changes?.changed(keys);
  } else {
    near.flush();
    if (on) changes?.resumed();
  }
}

/**
 * Who else hears what tracking hears (Watch, src/watch/key-change-feed.ts): changed keys, after
 * the near-cache dropped them, so a re-read never sees the old near-cache entry; `resumed` when
 * tracking is (again) on or Redis flushed (anything may have changed); `lost` when it goes off.
 */
export interface KeyChangeSink {
  changed(keys: readonly string[]): void;
  resumed(): void;
  lost(): void;
}

/** How often the subscriber must answer a PING (within the command timeout) to stay trusted. */
export const HEARTBEAT_MS = 1000;

/**
 * Keeps the near-cache coherent with Redis' server-assisted client-side caching on RESP2:
 * a dedicated subscriber connection listens on `__redis__:invalidate`, and the data connection
 * runs `CLIENT TRACKING on REDIRECT <subscriber id> BCAST PREFIX <entry and generation prefixes>`,
 * so Redis pushes the name of every key under those prefixes that changes — a fill, a marker, a
 * generation change, an expiry or eviction — and a null message on FLUSHALL/FLUSHDB.
 *
 * Tracking is a property of both connections: Redis forgets it when the data connection closes,
 * and its pushes are lost while the subscriber is gone. So any close of either drops the whole
 * near-cache and turns it off, and every `ready` of either (ioredis reconnects silently) sets
 * tracking up again from scratch: subscriber `CLIENT ID` + `SUBSCRIBE`, then on the data
 * connection `CLIENT TRACKING off` and `on` with the new redirect (the prefixes of a client
 * cannot be re-added while on). Only after Redis acknowledged that does the near-cache turn on,
 * empty, and only reads sent after that point may install into it.
 */
export class InvalidationTracking implements NearCacheTracking {
  private subscriberId: string | undefined;
  /** The run id of the server the subscriber is connected to (read before it subscribed). */
  private subscriberRunId: string | undefined;
  /** Bumped on every close of either connection: an older set-up must not turn tracking on. */
  private attempt = 0;
  private current: TrackingState = 'off';
  private readonly heartbeat: NodeJS.Timeout;
  private closed = false;

  constructor(
    private readonly data: Redis,
    private readonly subscriber: Redis,
    private readonly near: NearCache,
    private readonly log: Logger,
    private readonly onState: (state: TrackingState) => void = () => undefined,
    private readonly changes?: KeyChangeSink,
  ) {
    subscriber.on('messageBuffer', (channel: Buffer, message: unknown) => this.onMessage(channel, message));
    subscriber.on('ready', () => void this.setUp());
    subscriber.on('close', () => this.lost('subscriber connection closed'));
    data.on('ready', () => void this.setUp());
    data.on('close', () => this.lost('data connection closed'));
    // A subscriber connection can die without closing (a silent network fault): its pushes are
    // lost while the data connection still works. A PING answered on it proves every push sent
    // before it arrived (one ordered stream); one that fails restarts the subscriber.
    // The data connection owns the tracking: if Redis frees that client (a middlebox dropped an
    // idle flow and Redis' keepalive reaped it), Redis stops sending pushes and tells nobody,
    // and a replica serving a hot set from L1 sends no command that would notice. So it is asked
    // too (CLIENT TRACKINGINFO), and must still track for the subscriber it redirects to.
    this.heartbeat = setInterval(() => {
      this.checkSubscriber();
      this.checkData();
    }, HEARTBEAT_MS).unref();
    void this.setUp();
  }

  /**
   * Stops the heartbeat (the connections are closed by their owner, after this): their closes
   * are then the shutdown, not a lost tracking, and no longer logged as one.
   */
  close(): void {
    this.closed = true;
    clearInterval(this.heartbeat);
  }

  private checkSubscriber(): void {
    if (this.current !== 'on' || this.subscriber.status !== 'ready') return;
    this.subscriber.ping().catch((err: unknown) => {
      this.log.warn({ err: (err as Error).message }, 'near-cache subscriber did not answer PING; reconnecting it');
      this.subscriber.disconnect(true);
    });
  }

  private checkData(): void {
    if (this.current !== 'on' || this.data.status !== 'ready') return;
    const attempt = this.attempt;
    const redirect = this.subscriberId;
    this.data.client('TRACKINGINFO').then(
      (info: unknown) => {
        if (attempt !== this.attempt) return;
        const problem = trackingInfoProblem(info, redirect);
        if (problem === undefined) return;
        this.log.warn({ problem }, 'near-cache data connection no longer tracks for this replica; reconnecting it');
        this.lost(`data connection: ${problem}`);
        this.data.disconnect(true);
      },
      (err: unknown) => {
        if (attempt !== this.attempt) return;
        // Refused by Redis (an ACL without CLIENT TRACKINGINFO): the connection answered, and
        // that is what can be checked. A timeout or a dead connection ends tracking.
        if ((err as Error).name === 'ReplyError') return;
        this.log.warn({ err: (err as Error).message }, 'near-cache data connection did not answer; reconnecting it');
        this.lost('data connection did not answer');
        this.data.disconnect(true);
      },
    );
  }

  get state(): TrackingState {
    return this.current;
  }

  /** The subscriber's CLIENT ID that tracking redirects to (undefined while not set up). */
  get redirectId(): string | undefined {
    return this.subscriberId;
  }

  /** Resolves true once tracking is on, false after `timeoutMs`. */
  async waitOn(timeoutMs: number): Promise<boolean> {
    const until = Date.now() + timeoutMs;
    while (this.current !== 'on' && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    return this.current === 'on';
  }

  private onMessage(channel: Buffer, message: unknown): void {
    applyInvalidationMessage(this.near, this.changes, channel, message, this.current === 'on');
  }

  private lost(why: string): void {
    this.attempt += 1;
    this.subscriberId = undefined;
    this.subscriberRunId = undefined;
    if (this.current === 'on' && !this.closed) this.log.warn({ why }, 'near-cache off: Redis invalidation tracking lost; reading Redis until it is back');
    this.enter('off');
  }

  private async setUp(): Promise<void> {
    const attempt = this.attempt;
    try {
      if (this.subscriber.status !== 'ready' || this.data.status !== 'ready') return;
      if (this.subscriberId === undefined) {
        try {
          const id = String(await this.subscriber.client('ID'));
          // Before SUBSCRIBE: a subscribed RESP2 connection takes no INFO.
          const runId = await serverRunId(this.subscriber);
          await this.subscriber.subscribe(INVALIDATION_CHANNEL);
          if (attempt !== this.attempt) return;
          this.subscriberId = id;
          this.subscriberRunId = runId;
        } catch (err) {
          // A SUBSCRIBE that timed out may still have subscribed, after which RESP2 refuses
          // CLIENT ID: start the subscriber over on a fresh connection (its ready sets up again).
          this.log.warn({ err: (err as Error).message }, 'near-cache subscriber set-up failed; reconnecting it');
          this.subscriber.disconnect(true);
          return;
        }
      }
      // Both connections on one server. After a failover that moved the address (DNS), they may
      // reconnect to different ones; a REDIRECT to the subscriber's id then names whatever client
      // has that number on the data connection's server (ids are small counters), and the pushes
      // went there: the near-cache on, never invalidated. It stays off and tries again (a
      // failover ends with both on the new server: the old one's connections close).
      if ((await serverRunId(this.data)) !== this.subscriberRunId) {
        throw new Error('the subscriber and data connections reached different Redis servers (a failover in progress?)');
      }
      const prefixes = TRACKED_KEY_PREFIXES.flatMap((p) => ['PREFIX', p]);
      // Both in one pipeline on one connection: nothing runs between off and on.
      const replies = await this.data
        .pipeline()
        .client('TRACKING', 'off')
        .client('TRACKING', 'on', 'REDIRECT', this.subscriberId, 'BCAST', ...prefixes)
        .exec();
      const failed = replies?.find(([err]) => err);
      if (!replies || failed) throw failed?.[0] ?? new Error('CLIENT TRACKING got no reply');
      if (attempt !== this.attempt) return;
      this.enter('on');
      this.log.info({ redirect: this.subscriberId }, 'near-cache on: Redis tracks cache keys for this replica');
    } catch (err) {
      // Stay off (reads use Redis); the next ready of either connection tries again, and so do we.
      this.log.warn({ err: (err as Error).message }, 'near-cache tracking set-up failed; retrying');
      setTimeout(() => {
        if (attempt === this.attempt && this.current === 'off') void this.setUp();
      }, 500).unref();
    }
  }

  private enter(state: TrackingState): void {
    // Turning on also empties the near-cache: reads sent before this point must not install.
    if (state === 'off' && this.current === 'off') return;
    this.current = state;
    this.near.setTracking(state === 'on');
    this.onState(state);
    if (state === 'on') this.changes?.resumed();
    else this.changes?.lost();
  }
}

/**
 * What is wrong with a `CLIENT TRACKINGINFO` reply (RESP2: flags, [..], redirect, id,
 * prefixes, [..]) for a connection that should track in BCAST mode for `redirect`; undefined
 * when nothing is.
 */
export function trackingInfoProblem(info: unknown, redirect: string | undefined): string | undefined {
  if (!Array.isArray(info)) return 'unreadable CLIENT TRACKINGINFO reply';
  const field = (name: string): unknown => {
    const i = info.findIndex((v) => String(v) === name);
    return i >= 0 ? info[i + 1] : undefined;
  };
  const flags = field('flags');
  const flagList = Array.isArray(flags) ? flags.map(String) : [];
  if (!flagList.includes('on')) return 'tracking is off';
  if (flagList.includes('broken_redirect')) return 'the client it redirects to is gone';
  if (!flagList.includes('bcast')) return 'tracking is not in BCAST mode';
  if (redirect !== undefined && String(field('redirect')) !== redirect) return `redirects to ${String(field('redirect'))}, not ${redirect}`;
  return undefined;
}
