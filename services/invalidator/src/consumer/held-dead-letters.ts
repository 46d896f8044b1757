import type { DeadLetter } from './dead-letter-publisher';

/**
 * One partition's dead letters that are not published yet, while its consumption goes on.
 *
 * The commit of a partition never passes a dead letter that is not in the dead-letter topic, but
 * its evictions need not wait for one: evictions are idempotent and version-fenced. So the
 * consumer keeps fetching and evicting behind a dead letter it could not publish, holds the
 * letters here, and commits only once they are out (`appliedThrough` is how far the commit may
 * then go). A rebalance re-fetches the partition from its committed offset, so letters come
 * again: they are kept by offset, once.
 */
export class HeldDeadLetters {
  /** By offset, in the order they first came (offset order). */
  private readonly byOffset = new Map<string, DeadLetter>();
  private heldBytes = 0;
  /** Offset of the last event whose evictions were applied since the letters were held. */
  appliedThrough: string;
  /** Earliest time (ms since epoch) of the next publish attempt. */
  nextAttemptAt = 0;
  /** The publish attempt in progress (a batch's or the retry timer's): one at a time. */
  attempt: Promise<void> | undefined;
  /** Runs the next attempt when no batch of the partition comes to run it. */
  retryTimer: NodeJS.Timeout | undefined;
  /** The partition moved to another member: its owner re-fetches the letters; nothing here may commit. */
  dropped = false;

  constructor(
    readonly topic: string,
    readonly partition: number,
    appliedThrough: string,
  ) {
    this.appliedThrough = appliedThrough;
  }

  /** `topic/partition`, the key of per-partition state in the consumer. */
  get key(): string {
    return `${this.topic}/${this.partition}`;
  }

  add(letters: readonly DeadLetter[]): void {
    for (const l of letters) {
      if (this.byOffset.has(l.offset)) continue;
      this.byOffset.set(l.offset, l);
      this.heldBytes += (l.key?.length ?? 0) + (l.value?.length ?? 0);
    }
  }

  /** Drops letters that were published. */
  published(letters: readonly DeadLetter[]): void {
    for (const l of letters) {
      if (this.byOffset.delete(l.offset)) this.heldBytes -= (l.key?.length ?? 0) + (l.value?.length ?? 0);
    }
  }

  get letters(): DeadLetter[] {
    return [...this.byOffset.values()];
  }

  get size(): number {
    return this.byOffset.size;
  }

  /** Key and value bytes held in memory. */
  get bytes(): number {
    return this.heldBytes;
  }
}
