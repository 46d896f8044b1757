/**
 * What a settings replica learns about changes to cache keys, for the Watch streams: the names of
 * Redis keys that changed (Redis' invalidation pushes, the ones that keep the near-cache
 * coherent) and "anything may have changed" resets (tracking lost, then set up again: pushes
 * may have been missed in between). Watch never polls PostgreSQL: a change reaches a watcher
 * because its key's marker or fill changed in Redis.
 */
export interface KeyChangeListener {
  /** Keys whose Redis value changed (a marker, a fill, an expiry). */
  onChange(keys: readonly string[]): void;
  /** Changes may have been missed: re-read everything watched. Called when tracking comes back. */
  onReset(): void;
  /** Delivery stopped (tracking lost); until the next reset nothing watched is known to be current. */
  onLost(): void;
}

export interface KeyChangeFeed {
  /** True while pushes are delivered (Redis tracking is on). */
  readonly live: boolean;
  listen(listener: KeyChangeListener): () => void;
}

/** The feed's source side: the invalidation tracking calls these, Watch listens. */
export class KeyChangeBroadcast implements KeyChangeFeed {
  private readonly listeners = new Set<KeyChangeListener>();
  private isLive = false;

  get live(): boolean {
    return this.isLive;
  }

  listen(listener: KeyChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  changed(keys: readonly string[]): void {
    for (const l of this.listeners) l.onChange(keys);
  }

  /** Tracking is (again) on: from now on every change is pushed; what came before may be missed. */
  resumed(): void {
    this.isLive = true;
    for (const l of this.listeners) l.onReset();
  }

  lost(): void {
    if (!this.isLive) return;
    this.isLive = false;
    for (const l of this.listeners) l.onLost();
  }
}
