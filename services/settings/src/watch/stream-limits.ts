export type StreamRefusal = 'per_caller' | 'per_replica';

/**
 * Caps on open Watch streams: per caller (`sub`), so one caller cannot take a replica's whole
 * share, and per replica, so streams cannot exhaust its memory or file descriptors. The
 * replica's limit is checked first: a full replica is UNAVAILABLE (WATCH_REPLICA_FULL, another
 * replica may have room), a caller over its own cap RESOURCE_EXHAUSTED (WATCH_LIMIT_EXCEEDED).
 */
export class StreamLimits {
  private total = 0;
  private readonly byCaller = new Map<string, number>();

  constructor(
    readonly maxPerReplica: number,
    readonly maxPerCaller: number,
  ) {}

  /** A release function, or which limit refused the stream. */
  tryOpen(caller: string): (() => void) | StreamRefusal {
    if (this.total >= this.maxPerReplica) return 'per_replica';
    const mine = this.byCaller.get(caller) ?? 0;
    if (mine >= this.maxPerCaller) return 'per_caller';
    this.total += 1;
    this.byCaller.set(caller, mine + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.total -= 1;
      const left = (this.byCaller.get(caller) ?? 1) - 1;
      if (left === 0) this.byCaller.delete(caller);
      else this.byCaller.set(caller, left);
    };
  }

  get open(): number {
    return this.total;
  }
}
