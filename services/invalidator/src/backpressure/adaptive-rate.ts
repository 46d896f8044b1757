/**
 * The eviction ceiling as a control loop on Redis's own latency: additive increase,
 * multiplicative decrease (as TCP does on loss), bounded by a configured hard maximum.
 *
 * Every eviction round trip is observed; every `stepMs` the p99 of the window decides: above
 * the target while Redis is busy (`redisBusy`, its main thread's CPU: redis-cpu.ts), cut the rate
 * to `decrease` × rate; otherwise add `increaseFraction` of the hard maximum. Slow round trips
 * to an idle Redis mean the machine or this process is slow, which backing off cannot help. The window's p99, not its worst sample, so one slow round trip (a GC pause, a
 * rebalance) cannot collapse the rate, while a Redis that is getting slow for everyone — its
 * round trips queue behind readers' commands and vice versa — is seen within one step, before
 * reader latency grows much: an eviction call and a read wait in the same queue.
 * The rate never leaves [floor, max]; a failed call drops it to the floor.
 */
export interface AdaptiveRateOptions {
  /** Lowest rate as a fraction of the maximum (default 0.05). */
  floorFraction?: number;
  /** Time between decisions (default 250 ms). */
  stepMs?: number;
  /** Multiplier on a slow step (default 0.7). */
  decrease?: number;
  /** Fraction of the maximum added on a fast step (default 0.1: floor → max in ~2.5 s). */
  increaseFraction?: number;
  /** Whether Redis itself is busy (default: always, i.e. latency alone decides). */
  redisBusy?: () => boolean;
  now?: () => number;
}

export class AdaptiveRate {
  private current: number;
  private lastStep: number | undefined;
  private window: number[] = [];

  constructor(
    /** The hard maximum (keys/s); 0 = no ceiling, the loop is off. */
    readonly max: number,
    private readonly latencyTargetMs: number,
    private readonly opts: AdaptiveRateOptions = {},
  ) {
    this.current = max;
  }

  get rate(): number {
    return this.current;
  }

  private get floor(): number {
    return Math.max(1, this.max * (this.opts.floorFraction ?? 0.05));
  }

  private now(): number {
    return (this.opts.now ?? (() => performance.now()))();
  }

  /** Records one eviction round trip; returns the rate to use from now on. */
  observe(latencyMs: number): number {
    if (this.max <= 0) return 0;
    const now = this.now();
    this.lastStep ??= now;
    this.window.push(latencyMs);
    if (now - this.lastStep < (this.opts.stepMs ?? 250)) return this.current;
    // A step of one round trip (light load, or the first after an idle stretch, often the
    // slowest) has nothing to forgive it against: it waits for the next one instead of deciding.
    if (this.window.length < 2) return this.current;
    const slow = p99(this.window) > this.latencyTargetMs && (this.opts.redisBusy?.() ?? true);
    if (slow) this.current = Math.max(this.floor, this.current * (this.opts.decrease ?? 0.7));
    else this.current = Math.min(this.max, this.current + this.max * (this.opts.increaseFraction ?? 0.1));
    this.lastStep = now;
    this.window = [];
    return this.current;
  }

  /** Redis failed outright: drop to the floor; recovery then climbs back additively. */
  failed(): number {
    if (this.max > 0) this.current = this.floor;
    this.window = [];
    return this.current;
  }
}

/**
 * Nearest-rank p99 of a window (at least 2 round trips). A window of fewer than 100 forgives
 * exactly one (its slowest): one outlier per step never decides.
 */
function p99(samples: number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = sorted.length >= 100 ? Math.ceil(sorted.length * 0.99) - 1 : sorted.length - 2;
  return sorted[Math.max(0, rank)]!;
}
