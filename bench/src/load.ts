import { performance } from 'node:perf_hooks';
import { mulberry32 } from '@settings/local-stack';

/** Deterministic PRNG (mulberry32) so every variant of a scenario gets the same traffic. */
export const prng = mulberry32;

/**
 * Zipf(s) over n items. Ranks are mapped through a seeded random permutation, so the hot items
 * are spread over the id range (and over the order a bulk UPDATE visits rows) instead of being
 * the first rows inserted.
 */
export class Zipf {
  private readonly cdf: Float64Array;
  private readonly perm: Uint32Array;
  constructor(
    readonly n: number,
    s: number,
    seed: number,
  ) {
    this.cdf = new Float64Array(n);
    let sum = 0;
    for (let k = 1; k <= n; k++) {
      sum += 1 / k ** s;
      this.cdf[k - 1] = sum;
    }
    for (let i = 0; i < n; i++) this.cdf[i]! /= sum;
    this.perm = new Uint32Array(n);
    for (let i = 0; i < n; i++) this.perm[i] = i;
    const r = prng(seed ^ 0x5bd1e995);
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(r() * (i + 1));
      const t = this.perm[i]!;
      this.perm[i] = this.perm[j]!;
      this.perm[j] = t;
    }
  }

  /** An item index in 0..n-1 for a uniform u in [0, 1). */
  sample(u: number): number {
    let lo = 0;
    let hi = this.n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.cdf[mid]! < u) lo = mid + 1;
      else hi = mid;
    }
    return this.perm[lo]!;
  }

  /** Share of all requests going to the `top` most popular items. */
  topShare(top: number): number {
    return this.cdf[Math.min(this.n, top) - 1]!;
  }
}

export interface OpenLoopResult {
  fired: number;
  /** Not sent because `maxInflight` calls were already outstanding (the target is saturated). */
  shed: number;
}

/**
 * Open-loop load: calls `fire(i)` at `ratePerSecond` for `durationMs` regardless of how fast
 * earlier calls complete (a closed loop would slow down with the server and hide queueing).
 * Resolves when the schedule ends and every call fired has completed.
 */
export async function openLoop(ratePerSecond: number, durationMs: number, fire: (i: number) => Promise<unknown>, maxInflight = 4000, stop?: () => boolean): Promise<OpenLoopResult> {
  const start = performance.now();
  let fired = 0;
  let shed = 0;
  let inflight = 0;
  const pending = new Set<Promise<unknown>>();
  if (ratePerSecond <= 0) {
    await new Promise((r) => setTimeout(r, durationMs));
    return { fired, shed };
  }
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const elapsed = performance.now() - start;
      const due = Math.min(Math.floor((elapsed / 1000) * ratePerSecond), Math.floor((durationMs / 1000) * ratePerSecond));
      while (fired + shed < due) {
        if (inflight >= maxInflight) {
          shed++;
          continue;
        }
        const i = fired++;
        inflight++;
        const p = fire(i).finally(() => {
          inflight--;
          pending.delete(p);
        });
        pending.add(p);
      }
      if (elapsed >= durationMs || stop?.()) resolve();
      else setTimeout(tick, 2);
    };
    tick();
  });
  await Promise.allSettled([...pending]);
  return { fired, shed };
}
