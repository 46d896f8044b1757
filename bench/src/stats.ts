/** Small statistics helpers: nearest-rank percentiles, medians, a least-squares slope. */

export interface LatencySummary {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

/** Nearest-rank percentile of an ascending array (p in 0..100); NaN when empty. */
export function percentileSorted(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export function sortedCopy(values: ArrayLike<number>): Float64Array {
  const out = Float64Array.from(values as ArrayLike<number>);
  out.sort();
  return out;
}

export function summarize(values: ArrayLike<number>): LatencySummary {
  const s = sortedCopy(values);
  let sum = 0;
  for (let i = 0; i < s.length; i++) sum += s[i]!;
  return {
    count: s.length,
    p50: round(percentileSorted(s, 50)),
    p95: round(percentileSorted(s, 95)),
    p99: round(percentileSorted(s, 99)),
    max: round(s.length ? s[s.length - 1]! : Number.NaN),
    mean: round(s.length ? sum / s.length : Number.NaN),
  };
}

/** Median (mean of the middle two for an even count) of the finite values; NaN when none. */
export function median(values: readonly number[]): number {
  const s = sortedCopy(values.filter((v) => Number.isFinite(v)));
  if (s.length === 0) return Number.NaN;
  const mid = s.length >> 1;
  return round(s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2);
}

/**
 * Element-wise median of structurally equal objects (repeated runs of one scenario): numeric
 * leaves become the median over the runs; strings, booleans and arrays come from the first run.
 */
export function medianDeep<T>(runs: readonly T[]): T {
  const first = runs[0] as unknown;
  if (typeof first === 'number') return median(runs as unknown as number[]) as unknown as T;
  if (first === null || typeof first !== 'object' || Array.isArray(first)) return runs[0]!;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(first)) out[k] = medianDeep(runs.map((r) => (r as Record<string, unknown>)[k]));
  return out as T;
}

/** Least-squares slope of y over x. */
export function slope(xs: readonly number[], ys: readonly number[]): number {
  const n = Math.min(xs.length, ys.length);
  if (n < 2) return 0;
  let sx = 0;
  let sy = 0;
  for (let i = 0; i < n; i++) {
    sx += xs[i]!;
    sy += ys[i]!;
  }
  const mx = sx / n;
  const my = sy / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my);
    den += (xs[i]! - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

/** Rounds to 3 significant decimals for readable JSON (keeps integers as they are). */
export function round(v: number, digits = 3): number {
  if (!Number.isFinite(v)) return v;
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

export function ratio(a: number, b: number): number {
  return b === 0 || !Number.isFinite(a) || !Number.isFinite(b) ? Number.NaN : round(a / b, 4);
}

/** Per-second rates from cumulative counter samples [(tMs, value)], as [(tMs, rate)]. */
export function ratesFromCounter(samples: ReadonlyArray<{ t: number; v: number }>): Array<{ t: number; rate: number }> {
  const out: Array<{ t: number; rate: number }> = [];
  for (let i = 1; i < samples.length; i++) {
    const dt = (samples[i]!.t - samples[i - 1]!.t) / 1000;
    if (dt <= 0) continue;
    out.push({ t: samples[i]!.t, rate: Math.max(0, (samples[i]!.v - samples[i - 1]!.v) / dt) });
  }
  return out;
}
