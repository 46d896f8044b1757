import type Redis from 'ioredis';
import type { Cluster } from 'ioredis';
import { TRACKED_KEY_PREFIXES, type Logger } from '@settings/shared';
import type { NearCache } from './near-cache';
import { applyInvalidationMessage, HEARTBEAT_MS, INVALIDATION_CHANNEL, type KeyChangeSink, type NearCacheTracking, type TrackingState } from './invalidation-tracking';

/** One master's tracking connection. */
interface NodeTracker {
  readonly conn: Redis;
  /** Tracking acknowledged on this connection since its last (re)connect. */
  on: boolean;
  /** Bumped on every close: a set-up started before must not mark the tracker on. */
  attempt: number;
}

/**
 * The near-cache's coherence on a Redis Cluster. Tracking is per server: a master only pushes
 * invalidations of the keys it holds. So every master gets a connection of its own that turns
 * `CLIENT TRACKING on REDIRECT <its own id> BCAST PREFIX ...` on for itself and then subscribes
 * to `__redis__:invalidate` (RESP2 delivers the pushes to a subscribed connection; redirecting to
 * itself makes it both). BCAST reports every change under the prefixes, whoever made it, so the
 * data connections (the cluster client's) need no tracking.
 *
 * The near-cache is on only while every master the cluster client knows is tracked. Any change
 * of that set — a failover promotes a replica, a node is added or removed, slots move — or a
 * close of any tracking connection turns it off (dropping everything) until the new set is
 * tracked again; a PING per master per second proves each push stream is alive (as on one Redis).
 * Non-guarantee (services/settings/README.md): between a failover and the client learning of it
 * (the node's connection closing, or a slot refresh, each noticed within ~1 s here), writes on
 * the promoted master are not pushed to this replica; the dead master's connection closing
 * turns the near-cache off at once in the common case.
 */
export class ClusterInvalidationTracking implements NearCacheTracking {
  private readonly trackers = new Map<string, NodeTracker>();
  private current: TrackingState = 'off';
  private closed = false;
  private readonly heartbeat: NodeJS.Timeout;

  constructor(
    private readonly cluster: Cluster,
    private readonly connect: (node: { host: string; port: number }) => Redis,
    private readonly near: NearCache,
    private readonly log: Logger,
    private readonly onState: (state: TrackingState) => void = () => undefined,
    private readonly changes?: KeyChangeSink,
  ) {
    for (const event of ['ready', '+node', '-node', 'refresh']) cluster.on(event, () => this.sync());
    this.heartbeat = setInterval(() => {
      this.sync();
      this.checkTrackers();
    }, HEARTBEAT_MS).unref();
    this.sync();
  }

  get state(): TrackingState {
    return this.current;
  }

  get redirectId(): string | undefined {
    return undefined;
  }

  async waitOn(timeoutMs: number): Promise<boolean> {
    const until = Date.now() + timeoutMs;
    while (this.current !== 'on' && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    return this.current === 'on';
  }

  close(): void {
    this.closed = true;
    clearInterval(this.heartbeat);
    for (const t of this.trackers.values()) t.conn.disconnect();
    this.trackers.clear();
    this.enter('off');
  }

  /** Tracks exactly the masters the cluster client knows now. */
  private sync(): void {
    if (this.closed) return;
    const masters = new Map<string, { host: string; port: number }>();
    for (const node of this.cluster.nodes('master')) {
      const { host, port } = node.options;
      if (host !== undefined && port !== undefined) masters.set(`${host}:${port}`, { host, port });
    }
    let changed = false;
    let removed = false;
    for (const [name, t] of this.trackers) {
      if (masters.has(name)) continue;
      this.trackers.delete(name);
      t.attempt += 1;
      t.conn.disconnect();
      changed = true;
      removed = true;
    }
    // A master gone from the client's view no longer pushes to us, but L1 may hold its keys'
    // entries, and the masters left may all be on: without this, nothing changed state and they
    // were served until a later refresh brought the master back. Dropped (and re-established).
    if (removed) this.enter('off');
    for (const [name, node] of masters) {
      if (this.trackers.has(name)) continue;
      this.add(name, node);
      changed = true;
    }
    if (changed) this.evaluate(`cluster masters now ${[...masters.keys()].join(', ') || 'unknown'}`);
  }

  private add(name: string, node: { host: string; port: number }): void {
    const conn = this.connect(node);
    const t: NodeTracker = { conn, on: false, attempt: 0 };
    this.trackers.set(name, t);
    conn.on('messageBuffer', (channel: Buffer, message: unknown) => applyInvalidationMessage(this.near, this.changes, channel, message, this.current === 'on'));
    conn.on('ready', () => void this.setUp(name, t));
    conn.on('close', () => {
      t.attempt += 1;
      t.on = false;
      if (this.trackers.get(name) === t) this.evaluate(`tracking connection to ${name} closed`);
    });
  }

  private async setUp(name: string, t: NodeTracker): Promise<void> {
    const attempt = t.attempt;
    try {
      const id = String(await t.conn.client('ID'));
      await t.conn.client('TRACKING', 'on', 'REDIRECT', id, 'BCAST', ...TRACKED_KEY_PREFIXES.flatMap((p) => ['PREFIX', p]));
      await t.conn.subscribe(INVALIDATION_CHANNEL);
      if (attempt !== t.attempt || this.trackers.get(name) !== t) return;
      t.on = true;
      this.evaluate(`tracking on at ${name}`);
    } catch (err) {
      // A half-done set-up (tracking on, not subscribed) is undone by a fresh connection; its ready sets up again.
      this.log.warn({ err: (err as Error).message, node: name }, 'near-cache tracking set-up failed on a cluster master; reconnecting it');
      t.conn.disconnect(true);
    }
  }

  private checkTrackers(): void {
    if (this.current !== 'on') return;
    for (const [name, t] of this.trackers) {
      t.conn.ping().catch((err: unknown) => {
        this.log.warn({ err: (err as Error).message, node: name }, 'near-cache tracking connection did not answer PING; reconnecting it');
        t.conn.disconnect(true);
      });
    }
  }

  private evaluate(why: string): void {
    const allOn = this.trackers.size > 0 && [...this.trackers.values()].every((t) => t.on);
    const next: TrackingState = allOn ? 'on' : 'off';
    if (next === this.current) return;
    if (next === 'off') this.log.warn({ why }, 'near-cache off: a cluster master is not tracked; reading Redis until it is');
    else this.log.info({ masters: [...this.trackers.keys()] }, 'near-cache on: every cluster master tracks cache keys for this replica');
    this.enter(next);
  }

  private enter(state: TrackingState): void {
    if (state === this.current) return;
    this.current = state;
    // Turning on empties the near-cache too: reads sent before this point must not install.
    this.near.setTracking(state === 'on');
    this.onState(state);
    if (state === 'on') this.changes?.resumed();
    else this.changes?.lost();
  }
}
