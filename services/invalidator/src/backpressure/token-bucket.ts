/**
 * Token bucket for Redis operations per second. `take(n)` waits until n tokens are there;
 * the bucket holds at most `burstSeconds` worth of tokens so an idle period cannot turn into
 * a spike above the ceiling (a one-second window sees at most rate × (1 + burstSeconds)).
 * A request bigger than the bucket is allowed to run it into debt, which later callers repay.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;
  // Takers queue up so two concurrent pipelines cannot both spend the same tokens.
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private ratePerSecond: number,
    private readonly burstSeconds = 0.05,
    private readonly now: () => number = () => performance.now(),
    private readonly sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
  ) {
    this.tokens = this.capacity();
    this.last = this.now();
  }

  get rate(): number {
    return this.ratePerSecond;
  }

  /** The most one take should ask for to stay smooth: the burst (at least 1 token); 0 rate: unlimited. */
  get burstTokens(): number {
    return this.ratePerSecond <= 0 ? Number.POSITIVE_INFINITY : this.capacity();
  }

  /** Changes the rate in place (adaptive control); tokens already earned are kept up to the new capacity. */
  setRate(ratePerSecond: number): void {
    this.refill();
    this.ratePerSecond = ratePerSecond;
    this.tokens = Math.min(this.tokens, this.capacity());
  }

  take(n: number): Promise<void> {
    const turn = this.queue.then(() => this.takeNow(n));
    this.queue = turn.catch(() => undefined);
    return turn;
  }

  private async takeNow(n: number): Promise<void> {
    if (this.ratePerSecond <= 0) return; // no ceiling configured
    this.refill();
    if (this.tokens < n && this.tokens < this.capacity()) {
      // Wait for enough tokens, or for a full bucket when n exceeds capacity.
      const need = Math.min(n, this.capacity()) - this.tokens;
      await this.sleep((need / this.ratePerSecond) * 1000);
      this.refill();
    }
    this.tokens -= n;
  }

  private capacity(): number {
    return Math.max(1, this.ratePerSecond * this.burstSeconds);
  }

  private refill(): void {
    const t = this.now();
    this.tokens = Math.min(this.capacity(), this.tokens + ((t - this.last) / 1000) * this.ratePerSecond);
    this.last = t;
  }
}
