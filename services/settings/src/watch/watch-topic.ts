/** One watched resource's current state as the fenced read path returns it. */
export interface Observed<S> {
  /** undefined: the resource does not exist. */
  readonly state: S | undefined;
  /** The resource's version (0 when it does not exist). */
  readonly version: bigint;
  /** When the change that caused this read was pushed (epoch ms); undefined for a first read. */
  readonly changedAt?: number;
}

export interface TopicOptions<S> {
  /** The cache key whose changes mean this resource changed. */
  readonly key: string;
  /**
   * Reads the current state through the normal fenced read path (never PostgreSQL per watcher);
   * undefined when it did not read because nobody watches any more (the read waited its turn).
   */
  read(): Promise<Observed<S> | undefined>;
  /** A failed read; the topic retries after about `retryMs` (jittered) while anyone watches. */
  onError(err: unknown): void;
  readonly retryMs: number;
  /** Called whenever the topic is settled again (no change left unread), whether or not the state changed. */
  onSettled?(): void;
  /**
   * False while changes may be missed (tracking lost, or not set up yet): every subscriber then
   * gets a read that starts after it subscribed, not a state read earlier, which a change whose
   * push was lost may have replaced. Default: always live.
   */
  live?(): boolean;
  /**
   * Two reads at one version carry the same state (a singleton resource: every write bumps its
   * version, and a renewal that may rewind one forces a delivery). A clean re-read at the version
   * delivered then replaces the delivered state in place: the topic keeps one copy, the
   * near-cache's, not also the first read's (a database load, re-read from Redis after the fill's
   * own tracking push). Not for lists rendered as deltas from what a watcher was sent. The one
   * field that may differ is the consistency token (signed by whichever pod built the state):
   * taking the re-read's keeps a watched state's token as new as the cache's entry, so once
   * entries signed with a retired key have expired, topics hold none either (the key rotation
   * runbook's last step waits for that).
   */
  readonly sameVersionSameState?: boolean;
}

/** What the topic delivered: the object its watchers hold (by identity), its state replaceable in place. */
type Held<S> = { state: S | undefined; readonly version: bigint; readonly changedAt?: number };

/**
 * The upstream side of one watched key in one replica: whatever the number of watchers, one read
 * per change (reads are serialised, and changes that arrive during a read trigger exactly one
 * more). Versions delivered only grow, so a read that started before a change can never take a
 * watcher back, except after a generation change (a TRUNCATE, a renewal after a restore): its
 * first clean read is delivered whatever its version. A resource that disappears is delivered as
 * `state: undefined`, but only when no change arrived during the read that saw it gone.
 */
export class WatchTopic<S> {
  private readonly subscribers = new Set<(o: Observed<S>) => void>();
  /**
   * Subscribers that joined while the topic was dirty and have had no state yet. A read at the
   * version already delivered is not news to the others, but it is their first state: without
   * it a stream opened during a tracking loss (or a read's retry) stayed without a state or a
   * bookmark until the key next changed.
   */
  private awaiting: Set<(o: Observed<S>) => void> | undefined; // made when needed: most topics are settled
  private current: Held<S> | undefined;
  private dirty = true;
  /** When the oldest change not yet answered by a read arrived. */
  private changedSince: number | undefined;
  /**
   * The key space's generation changed (a TRUNCATE, or a renewal after a restore): the next
   * clean read is delivered whatever its version. A TRUNCATE of a table that feeds a list (staff
   * permissions) may empty it without bumping the list's version, and after a PostgreSQL restore
   * the renewal's re-read finds versions lower than the ones delivered: taking only higher ones
   * kept the lost state for good (sent to every new stream, in every bookmark).
   */
  private forced = false;
  private reading = false;
  private retry: NodeJS.Timeout | undefined;

  constructor(private readonly opts: TopicOptions<S>) {}

  get key(): string {
    return this.opts.key;
  }

  get watchers(): number {
    return this.subscribers.size;
  }

  /** The last state delivered, if one was read since the last change. */
  get known(): Observed<S> | undefined {
    return this.dirty ? undefined : this.current;
  }

  /** True when every change heard of has been read: what was delivered is current. */
  get settled(): boolean {
    return !this.dirty && !this.reading && this.current !== undefined;
  }

  subscribe(fn: (o: Observed<S>) => void): () => void {
    this.subscribers.add(fn);
    const live = this.opts.live?.() ?? true;
    if (this.current && !this.dirty && live) fn(this.current);
    else {
      (this.awaiting ??= new Set()).add(fn);
      // While deaf, what was read (even by another newcomer since the loss) may be stale: a read
      // that starts now follows, also when one is already in flight (it started before).
      if (!live) this.dirty = true;
      this.refresh();
    }
    return () => {
      this.subscribers.delete(fn);
      this.awaiting?.delete(fn);
      if (this.subscribers.size === 0) this.close();
    };
  }

  /** The key changed (or may have): read again. `force`: deliver the next clean read whatever its version. */
  changed(force = false): void {
    this.dirty = true;
    if (force) this.forced = true;
    this.changedSince ??= Date.now();
    this.refresh();
  }

  /**
   * Changes may be missed from now on (tracking lost): what was read is no longer known to be
   * current, so a new subscriber reads instead of getting it. Nothing is read now; the reset
   * that follows the loss calls `changed`.
   */
  forget(): void {
    this.dirty = true;
  }

  close(): void {
    if (this.retry) clearTimeout(this.retry);
    this.retry = undefined;
  }

  private refresh(): void {
    if (this.reading || this.subscribers.size === 0) return;
    this.reading = true;
    void this.readLoop();
  }

  private async readLoop(): Promise<void> {
    try {
      while (this.dirty && this.subscribers.size > 0) {
        this.dirty = false;
        const changedAt = this.changedSince;
        this.changedSince = undefined;
        const forced = this.forced;
        this.forced = false;
        let next: Held<S>;
        try {
          const observed = await this.opts.read();
          if (observed === undefined) break;
          next = { ...observed, ...(changedAt !== undefined ? { changedAt } : {}) };
        } catch (err) {
          this.opts.onError(err);
          this.dirty = true;
          this.changedSince ??= changedAt;
          this.forced ||= forced;
          this.scheduleRetry();
          return;
        }
        // Another change arrived while reading: a newer version is still worth delivering (the
        // loop reads again), but an absence may predate a re-creation: only a clean read says so.
        if (this.dirty && next.state === undefined) {
          this.changedSince = changedAt;
          this.forced ||= forced;
          continue;
        }
        // A forced read no change overlapped is the truth whatever its version (lower after a
        // restore); one that was overlapped may predate the change, so the next read is forced.
        const cleanForced = forced && !this.dirty && next.state !== undefined && this.current !== undefined;
        if (this.accepts(next) || cleanForced) {
          this.current = next;
          this.awaiting = undefined;
          for (const fn of this.subscribers) fn(next);
          continue;
        }
        if (forced && this.dirty) this.forced = true;
        if (!this.dirty && this.current) {
          // Clean, and what was delivered is still current: it is the newcomers' first state.
          const current = this.current;
          if (this.opts.sameVersionSameState && next.state !== undefined && current.state !== undefined && next.version === current.version) current.state = next.state;
          const newcomers = [...(this.awaiting ?? [])];
          this.awaiting = undefined;
          for (const fn of newcomers) fn(current);
        }
      }
    } finally {
      this.reading = false;
    }
    if (this.settled) this.opts.onSettled?.();
  }

  /** Newer versions, and a disappearance seen by a read no change overlapped. */
  private accepts(next: Observed<S>): boolean {
    const cur = this.current;
    if (!cur) return true;
    if (next.state === undefined) return cur.state !== undefined;
    return cur.state === undefined || next.version > cur.version;
  }

  private scheduleRetry(): void {
    if (this.retry) return;
    // Jittered: after a storm (thousands of watched keys failing at once) the retries must not
    // arrive together again.
    this.retry = setTimeout(
      () => {
        this.retry = undefined;
        this.refresh();
      },
      this.opts.retryMs * (0.5 + Math.random()),
    );
    this.retry.unref();
  }
}
