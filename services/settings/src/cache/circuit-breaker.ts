export type BreakerState = 'closed' | 'open' | 'half-open';

export interface CircuitBreakerOptions {
  failureThreshold: number;
  openMs: number;
  now?: () => number;
  onStateChange?: (state: BreakerState) => void;
}

/**
 * Stops sending cache lookups to a Redis that keeps failing, so each request does not pay the
 * command timeout. After `openMs` one request probes Redis (half-open); its outcome closes
 * the breaker or opens it for another period. Everyone else goes straight to the fallback.
 */
export class CircuitBreaker {
  private failures = 0;
  private openedAt = 0;
  private current: BreakerState = 'closed';
  private probeInFlight = false;
  /** Round-trip errors already counted (weak: they go when the calls that saw them are done). */
  private readonly counted = new WeakSet<object>();
  private readonly now: () => number;

  constructor(private readonly options: CircuitBreakerOptions) {
    this.now = options.now ?? Date.now;
  }

  get state(): BreakerState {
    return this.current;
  }

  /** Whether this request may use Redis. In half-open state only the single probe may. */
  allowRequest(): boolean {
    if (this.current === 'closed') return true;
    if (this.current === 'open') {
      if (this.now() - this.openedAt < this.options.openMs) return false;
      this.transition('half-open');
    }
    if (this.probeInFlight) return false;
    this.probeInFlight = true;
    return true;
  }

  /**
   * The request let through did not reach a Redis it may trust (on a cluster, a slot answered by
   * a master no incarnation check has compared): neither success nor failure. In half-open state
   * the next request probes instead; without this, no request was ever let through again and
   * every read went to PostgreSQL until the process restarted.
   */
  releaseProbe(): void {
    if (this.current === 'half-open') this.probeInFlight = false;
  }

  recordSuccess(): void {
    this.failures = 0;
    this.probeInFlight = false;
    if (this.current !== 'closed') this.transition('closed');
  }

  /**
   * One failed Redis round trip. `cause` is its error: calls that shared the round trip (one MGET
   * for the lookups of one event-loop turn, coalesced-mget.ts) are rejected with the same error
   * object and report it each, and it is counted once. Counted per call, one timed-out MGET shared
   * by `failureThreshold` calls opened the breaker and sent every read to PostgreSQL for `openMs`.
   * Where the calls of a round trip each saw an error of their own (fills), `cause` is an object
   * standing for the round trip.
   */
  recordFailure(cause?: unknown): void {
    if (typeof cause === 'object' && cause !== null) {
      if (this.counted.has(cause)) return;
      this.counted.add(cause);
    }
    this.failures += 1;
    this.probeInFlight = false;
    if (this.current === 'half-open' || (this.current === 'closed' && this.failures >= this.options.failureThreshold)) {
      this.openedAt = this.now();
      this.transition('open');
    }
  }

  private transition(state: BreakerState): void {
    this.current = state;
    this.options.onStateChange?.(state);
  }
}
