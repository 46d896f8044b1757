import { LRUCache } from 'lru-cache';

export interface CallerRateLimits {
  /** Tokens added per second to each caller's bucket; 0 turns the rate off. */
  readonly perSecond: number;
  /** Bucket size: the most a caller may spend at once after being idle. */
  readonly burst: number;
}

interface Bucket {
  tokens: number;
  /** Epoch ms of the last refill. */
  at: number;
}

/**
 * Buckets kept at most: callers beyond this (least recently seen first) are forgotten and start
 * again with a full bucket. That only matters to a caller with thousands of subjects, which
 * already gets a share per subject (README non-guarantee 14).
 */
const MAX_TRACKED_CALLERS = 10_000;

/**
 * A token bucket per caller: how many deliberate database reads one caller may start per
 * second, whatever their concurrency. The concurrency share alone lets a caller keep its share
 * of PostgreSQL busy all the time; the rate bounds the work it can make PostgreSQL do.
 *
 * The bucket arithmetic is a few lines; the bounded map of callers is lru-cache.
 */
export class CallerRate {
  private readonly buckets = new LRUCache<string, Bucket>({ max: MAX_TRACKED_CALLERS });

  constructor(
    private readonly limits: CallerRateLimits,
    private readonly now: () => number = Date.now,
  ) {}

  get enabled(): boolean {
    return this.limits.perSecond > 0;
  }

  /** Whether `caller` may start a read now (it has at least one token). Takes nothing. */
  allows(caller: string): boolean {
    return !this.enabled || this.refilled(caller).tokens >= 1;
  }

  /**
   * Spends one token of `caller`. Only called after `allows` (FairShareLimiter.chargeCall), so a
   * bucket never goes below zero.
   */
  take(caller: string): void {
    if (this.enabled) this.refilled(caller).tokens -= 1;
  }

  private refilled(caller: string): Bucket {
    const now = this.now();
    let bucket = this.buckets.get(caller);
    if (bucket === undefined) {
      bucket = { tokens: this.limits.burst, at: now };
      this.buckets.set(caller, bucket);
      return bucket;
    }
    const elapsed = now - bucket.at;
    // The wall clock stepped back (NTP, a resumed VM): start counting again from now. Kept, the
    // bucket's future refill time froze every known caller's rate for the length of the step.
    if (elapsed < 0) bucket.at = now;
    else if (elapsed > 0) {
      bucket.tokens = Math.min(this.limits.burst, bucket.tokens + (elapsed * this.limits.perSecond) / 1000);
      bucket.at = now;
    }
    return bucket;
  }
}
