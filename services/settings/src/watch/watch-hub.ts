import pLimit from 'p-limit';
import type { KeyChangeFeed } from './key-change-feed';
import { WatchTopic, type Observed } from './watch-topic';

export interface HubOptions {
  /** A failed read of a watched resource (logged; the topic retries after `retryMs`). */
  onReadError(key: string, err: unknown): void;
  readonly retryMs: number;
  /**
   * Re-reads in flight at once (the rest wait their turn). Thousands of watchers opening or
   * reconnecting at once must not become thousands of concurrent Redis calls: late replies
   * time out and open the cache's circuit breaker. Default 32.
   */
  readonly maxConcurrentReads?: number;
}

/**
 * One replica's upstream for every Watch stream: one topic per watched cache key, shared by all
 * watchers of that key, re-read when Redis says the key (or its key space's generation)
 * changed, and all of them when changes may have been missed (tracking came back).
 */
export class WatchHub {
  private readonly topics = new Map<string, WatchTopic<unknown>>();
  /** Extra keys whose change means a topic changed (its key space's generation). */
  private readonly alsoOn = new Map<string, Set<string>>();
  private readonly unlisten: () => void;
  private readonly limit: pLimit.Limit;

  constructor(
    private readonly feed: KeyChangeFeed,
    private readonly opts: HubOptions,
  ) {
    this.limit = pLimit(opts.maxConcurrentReads ?? 32);
    this.unlisten = feed.listen({
      onChange: (keys) => {
        for (const k of keys) {
          this.topics.get(k)?.changed();
          // A generation change (TRUNCATE) may empty a list without bumping its version: force.
          for (const t of this.alsoOn.get(k) ?? []) this.topics.get(t)?.changed(true);
        }
      },
      onReset: () => {
        for (const t of this.topics.values()) t.changed();
      },
      // What a topic read before the loss may be stale now: a watcher that opens before the
      // reset gets a read of its own (through the fenced read path, which bypasses the near-cache
      // while tracking is down), not that state. Existing watchers are re-read at the reset.
      onLost: () => {
        for (const t of this.topics.values()) t.forget();
      },
    });
  }

  /** True while every change of a watched key reaches this replica. */
  get live(): boolean {
    return this.feed.live;
  }

  get topicCount(): number {
    return this.topics.size;
  }

  /** True when `key`'s topic has read every change heard of (what its watchers got is current). */
  isSettled(key: string): boolean {
    return this.topics.get(key)?.settled ?? false;
  }

  private readonly settledListeners = new Map<string, Set<() => void>>();

  /** Calls `fn` each time `key`'s topic settles (after any read, changed or not). */
  onSettled(key: string, fn: () => void): () => void {
    const set = this.settledListeners.get(key) ?? new Set<() => void>();
    set.add(fn);
    this.settledListeners.set(key, set);
    return () => {
      set.delete(fn);
      if (set.size === 0) this.settledListeners.delete(key);
    };
  }

  /**
   * Subscribes `fn` to `key`'s state (delivered now if known, else after the first read). The
   * first subscriber of a key creates its topic with `read`; the last one's unsubscribe drops it.
   */
  subscribe<S>(key: string, generationKey: string, read: () => Promise<Observed<S>>, fn: (o: Observed<S>) => void, opts: { sameVersionSameState?: boolean } = {}): () => void {
    let topic = this.topics.get(key) as WatchTopic<S> | undefined;
    if (!topic) {
      topic = this.createTopic(key, read, opts.sameVersionSameState === true);
      this.topics.set(key, topic as WatchTopic<unknown>);
      const set = this.alsoOn.get(generationKey) ?? new Set<string>();
      set.add(key);
      this.alsoOn.set(generationKey, set);
    }
    const t = topic;
    const unsubscribe = t.subscribe(fn);
    return () => {
      unsubscribe();
      if (t.watchers === 0 && this.topics.get(key) === t) {
        this.topics.delete(key);
        const set = this.alsoOn.get(generationKey);
        set?.delete(key);
        if (set?.size === 0) this.alsoOn.delete(generationKey);
      }
    };
  }

  /**
   * A method of its own, not inline in `subscribe`: the topic's closures, which live as long as
   * anyone watches the key, then capture only the key and the first subscriber's `read`. Made
   * inside `subscribe` they shared its scope with that subscriber's unsubscribe function, and
   * through it kept the first stream's watcher (its sink, its last states) alive after it closed.
   */
  private createTopic<S>(key: string, read: () => Promise<Observed<S>>, sameVersionSameState: boolean): WatchTopic<S> {
    const created: WatchTopic<S> = new WatchTopic<S>({
      key,
      // A topic dropped while its read waited for one of the hub's read slots does not read:
      // streams opened and cancelled again and again must not queue reads nobody wants.
      read: () => this.limit(() => (created.watchers > 0 ? read() : Promise.resolve(undefined))),
      retryMs: this.opts.retryMs,
      onError: (err) => this.opts.onReadError(key, err),
      onSettled: () => this.settledListeners.get(key)?.forEach((l) => l()),
      // While tracking is lost every newcomer reads (not only the first since the loss).
      live: () => this.feed.live,
      // Every subscriber of a key watches the same kind of resource: the first one's says it.
      ...(sameVersionSameState ? { sameVersionSameState: true } : {}),
    });
    return created;
  }

  close(): void {
    this.unlisten();
    for (const t of this.topics.values()) t.close();
    this.topics.clear();
    this.alsoOn.clear();
  }
}
