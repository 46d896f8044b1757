/**
 * Additive-increase / multiplicative-decrease on Redis latency, as TCP does on loss: when
 * pipelines get slower than the target, cut the rate by a third; while they stay fast, give
 * back 5% of the ceiling per step. Decisions are spaced by `stepMs` so one slow pipeline
 * cannot collapse the rate, and the rate never leaves [floor, ceiling].
 */
export class AdaptiveRate {
  private current: number;
  private lastStep = -Infinity;
  private worstSinceStep = 0;

  constructor(
    readonly ceiling: number,
    private readonly latencyTargetMs: number,
    private readonly opts: { floorFraction?: number; stepMs?: number; now?: () => number } = {},
  ) {
    this.current = ceiling;
  }

  get rate(): number {
    return this.current;
  }

  private get floor(): number {
    return Math.max(1, this.ceiling * (this.opts.floorFraction ?? 0.05));
  }

  /** Records one pipeline's latency; returns the rate to use from now on. */
  observe(latencyMs: number): number {
    if (this.ceiling <= 0) return 0;
    const now = (this.opts.now ?? (() => performance.now()))();
    this.worstSinceStep = Math.max(this.worstSinceStep, latencyMs);
    if (now - this.lastStep < (this.opts.stepMs ?? 500)) return this.current;
    if (this.worstSinceStep > this.latencyTargetMs) this.current = Math.max(this.floor, this.current * 0.67);
    else this.current = Math.min(this.ceiling, this.current + this.ceiling * 0.05);
    this.lastStep = now;
    this.worstSinceStep = 0;
    return this.current;
  }

  /** Redis failed outright: drop to the floor; recovery then climbs back additively. */
  failed(): number {
    if (this.ceiling > 0) this.current = this.floor;
    return this.current;
  }
}
