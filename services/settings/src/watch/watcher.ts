import type { WatchHub } from './watch-hub';
import type { Observed } from './watch-topic';

/** Where a watcher's messages go: a server stream (grpc-js `write` returns false when its buffer is full). */
export interface WatchSink<M> {
  write(message: M): boolean;
  /** Calls `fn` once the sink can take more after a `write` returned false. */
  onceDrained(fn: () => void): void;
}

/**
 * What the caller has, per watched resource: nothing, the version of its resume token, or a
 * state it was sent. `baseUnknown`: that state is older than the caller's resume token or than a
 * state sent before it (a database restore took the version back), and a caller that keeps the
 * highest version it has seen (README, non-guarantee 26) ignored it, so it is no base for a
 * delta: the next change goes out as a full state.
 */
export type Sent<S> = { kind: 'nothing' } | { kind: 'resume'; version: bigint } | { kind: 'state'; observed: Observed<S>; baseUnknown?: true };

/** One watched resource of one stream. */
export interface WatchTarget<S, M> {
  /** The resource name the caller asked for. */
  readonly name: string;
  readonly key: string;
  readonly generationKey: string;
  /** Version from the caller's resume token, if any. */
  readonly resumeVersion?: bigint;
  read(): Promise<Observed<S>>;
  /** Two reads at one version carry the same state (TopicOptions.sameVersionSameState). */
  readonly sameVersionSameState?: boolean;
  /** The messages that take a caller from `sent` to `latest` ([] when it already has it). */
  render(sent: Sent<S>, latest: Observed<S>): M[];
}

interface Slot<M> {
  readonly target: WatchTarget<unknown, M>;
  sent: Sent<unknown>;
  latest: Observed<unknown> | undefined;
  unsubscribe: () => void;
  /** The highest version the caller may hold: its resume token's, or the highest sent since. */
  highest: bigint | undefined;
  /** This replica's state is older than the caller's resume token: held back until this ends (or it catches up). */
  hold?: { timer: NodeJS.Timeout; expired: boolean };
}

/** How a resumed target held back because this replica was behind the caller ended. */
export type ResumeHoldOutcome = 'caught_up' | 'expired';

/**
 * True when `latest` is certainly older than the state the caller's resume token names. Every
 * cached table draws its versions from one sequence (migration 0001), so a resource that exists
 * never has a version lower than one it had before, even after a delete and a re-create; a
 * present state below the token is this replica not having heard of a change yet (the push is
 * on its way, or tracking was lost and not yet noticed). Version 0 (the resource does not exist)
 * can follow any version and is never called older.
 */
export function olderThanResume(resumeVersion: bigint, latest: Observed<unknown>): boolean {
  return latest.version !== 0n && latest.version < resumeVersion;
}

/**
 * One Watch stream. Every target's newest state replaces the previous one that was not sent yet,
 * so a slow caller gets the latest value, coalesced, and the memory a stream holds is one state
 * per target, never a queue. A progress message (a bookmark) goes out when nothing is pending and
 * the replica is live: "you are current as of now".
 */
export class Watcher<M> {
  private readonly slots: Array<Slot<M>> = [];
  private blocked = false;
  private closed = false;
  private scheduled = false;
  /** Anything was written: a resumed caller that was already current gets a bookmark as its first message. */
  private answered = false;
  /**
   * The slot a flush starts at: the one after the last slot written. The sink is full after a
   * couple of messages, so a flush that always started at the first slot let a slow caller's
   * first targets, changing before each drain, take every turn: a later one was never sent.
   */
  private cursor = 0;

  constructor(
    private readonly hub: WatchHub,
    private readonly sink: WatchSink<M>,
    private readonly opts: {
      progressMessage(versions: ReadonlyArray<{ name: string; version: bigint }>): M;
      /** Messages written for a change (not bookmarks); `changedAt` is when Redis pushed it. */
      onPush?(count: number, changedAt: number | undefined): void;
      /** A target's `render` threw: the stream cannot go on (e.g. a list grew past what a watch holds). */
      onFatal?(err: unknown): void;
      /**
       * Longest a resumed target waits for this replica to catch up with the caller's resume
       * token (olderThanResume); then this replica's state is sent anyway: a token from before a
       * database restore, or a forged one, is ahead of every version there is. 0 = no wait.
       */
      resumeHoldMs?: number;
      onResumeHold?(outcome: ResumeHoldOutcome): void;
    },
  ) {}

  start(targets: ReadonlyArray<WatchTarget<unknown, M>>): void {
    for (const target of targets) {
      const slot: Slot<M> = {
        target,
        sent: target.resumeVersion !== undefined ? { kind: 'resume', version: target.resumeVersion } : { kind: 'nothing' },
        latest: undefined,
        unsubscribe: () => undefined,
        highest: target.resumeVersion,
      };
      this.slots.push(slot);
      const unsubscribe = this.hub.subscribe(
        target.key,
        target.generationKey,
        // Bound, not an arrow made here: the key's topic keeps the read of its first watcher for
        // as long as anyone watches the key, and an arrow would share this scope, and with it
        // this watcher (`this`, the slot), with the callbacks below.
        target.read.bind(target),
        (o) => {
          slot.latest = o;
          this.schedule();
        },
        { sameVersionSameState: target.sameVersionSameState === true },
      );
      // A topic that settles without a new state (a re-read after tracking came back found the
      // same version) still lets a caught-up stream send its first bookmark: never silence.
      const unsettle = this.hub.onSettled(target.key, () => this.schedule());
      slot.unsubscribe = () => {
        unsettle();
        unsubscribe();
      };
    }
  }

  /** True once every target's state was read at least once. */
  get ready(): boolean {
    return this.slots.every((s) => s.latest !== undefined);
  }

  /**
   * Sends a bookmark if the stream is caught up, the replica is live, and every watched topic has
   * read every change it heard of (a re-read in flight may still bring a newer state); false otherwise.
   */
  progress(): boolean {
    if (this.closed || this.blocked || !this.hub.live || !this.ready || this.pending()) return false;
    if (!this.slots.every((s) => this.hub.isSettled(s.target.key))) return false;
    const versions = this.slots.map((s) => ({ name: s.target.name, version: s.latest!.version }));
    this.write(this.opts.progressMessage(versions));
    return true;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const s of this.slots) {
      s.unsubscribe();
      if (s.hold) clearTimeout(s.hold.timer);
    }
    // The stream may keep this watcher long after (grpc-js holds its write callbacks while a
    // caller that stopped reading is connected): what it was sent and had pending goes now.
    this.slots.length = 0;
  }

  private pending(): boolean {
    return this.slots.some((s) => s.latest !== undefined && !(s.sent.kind === 'state' && s.sent.observed === s.latest));
  }

  private schedule(): void {
    if (this.scheduled || this.blocked || this.closed) return;
    this.scheduled = true;
    // Several targets changed by one push flush together.
    queueMicrotask(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    let sentStates = false;
    const start = this.cursor;
    for (let i = 0; i < this.slots.length; i++) {
      if (this.closed || this.blocked) return;
      const index = (start + i) % this.slots.length;
      const slot = this.slots[index]!;
      const latest = slot.latest;
      if (!latest || (slot.sent.kind === 'state' && slot.sent.observed === latest)) continue;
      // Still pending, so no bookmark goes out either: this replica cannot say the caller is current.
      if (slot.sent.kind === 'resume' && this.heldBack(slot, slot.sent.version, latest)) continue;
      let messages: M[];
      try {
        messages = slot.target.render(slot.sent, latest);
      } catch (err) {
        this.close();
        this.opts.onFatal?.(err);
        return;
      }
      // Older than the caller's token (a hold that expired, or a resource "missing" here) or than
      // a state it was sent (a restore took the version back): the caller may have kept what it
      // had. A staff list's delta from this state would then miss a grant the caller still holds
      // and this state never had: revoked, it stayed with the caller for good, while bookmarks
      // said the caller was current.
      const behindCaller = slot.highest !== undefined && latest.version < slot.highest;
      if (!behindCaller) slot.highest = latest.version;
      slot.sent = behindCaller ? { kind: 'state', observed: latest, baseUnknown: true } : { kind: 'state', observed: latest };
      if (messages.length > 0) this.cursor = (index + 1) % this.slots.length;
      for (const m of messages) this.write(m);
      if (messages.length > 0) {
        sentStates = true;
        this.opts.onPush?.(messages.length, latest.changedAt);
      }
    }
    // The first answer of a stream whose caller already had everything (resume) is a bookmark,
    // as soon as it can honestly be sent (live, every topic settled): never silence.
    if (!sentStates && this.ready && !this.answered) this.progress();
  }

  /** Whether a resumed target waits for this replica to catch up with the caller (olderThanResume) before anything is sent. */
  private heldBack(slot: Slot<M>, resumeVersion: bigint, latest: Observed<unknown>): boolean {
    const holdMs = this.opts.resumeHoldMs ?? 0;
    if (holdMs <= 0) return false;
    if (!olderThanResume(resumeVersion, latest)) {
      if (slot.hold) {
        clearTimeout(slot.hold.timer);
        // An expired hold was counted when it expired.
        if (!slot.hold.expired) this.opts.onResumeHold?.('caught_up');
        slot.hold = undefined;
      }
      return false;
    }
    if (slot.hold?.expired) return false;
    if (!slot.hold) {
      const hold = {
        expired: false,
        timer: setTimeout(() => {
          hold.expired = true;
          this.opts.onResumeHold?.('expired');
          this.schedule();
        }, holdMs),
      };
      // The stream's own lifetime keeps the process up, not this timer.
      hold.timer.unref();
      slot.hold = hold;
    }
    return true;
  }

  private write(m: M): void {
    this.answered = true;
    if (this.sink.write(m)) return;
    this.blocked = true;
    this.sink.onceDrained(() => {
      this.blocked = false;
      this.flush();
    });
  }
}
