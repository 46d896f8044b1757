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

/**
 * Median (mean of the middle two for an even count) of the finite values; NaN when none.
 * Not rounded: a median is judged against targets, and rounding belongs to the display
 * (report/format.ts), which shows enough digits to tell on which side of a target it falls.
 */
export function median(values: readonly number[]): number {
  const s = sortedCopy(values.filter((v) => Number.isFinite(v)));
  if (s.length === 0) return Number.NaN;
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Median, lowest and highest of the finite values and how many there were (NaN when none). */
export interface Spread {
  n: number;
  median: number;
  min: number;
  max: number;
}

export function spread(values: readonly number[]): Spread {
  const finite = values.filter((v) => Number.isFinite(v));
  return {
    n: finite.length,
    median: median(finite),
    min: finite.length ? Math.min(...finite) : Number.NaN,
    max: finite.length ? Math.max(...finite) : Number.NaN,
  };
}

/**
 * The item whose value is the median of the items' values, when one is (an odd count of finite
 * values; the lowest round on a tie); undefined for an even count, where the median falls
 * between two items. Lets a report put numbers side by side that come from one round.
 */
export function medianItem<T>(items: readonly T[], value: (t: T) => number): T | undefined {
  const finite = items.filter((t) => Number.isFinite(value(t)));
  if (finite.length % 2 === 0) return undefined;
  const m = median(finite.map(value));
  return finite.find((t) => value(t) === m);
}

/**
 * Element-wise median of structurally equal objects (repeated runs of one scenario): numeric
 * leaves become the median over the runs; strings, booleans and arrays come from the first run.
 * A maximum's median is not a maximum: see aggregateDeep.
 */
export function medianDeep<T>(runs: readonly T[]): T {
  return aggregateDeep(runs, () => 'median');
}

/** How aggregateDeep combines one numeric leaf over the runs. */
export type LeafAggregate = 'median' | 'max' | 'first';

/**
 * Element-wise aggregate of structurally equal objects (repeated runs of one scenario): each
 * numeric leaf, named by its path of keys, becomes the median, the maximum or the first run's
 * value over the runs, as `how(path)` says; strings, booleans and arrays come from the first run.
 */
export function aggregateDeep<T>(runs: readonly T[], how: (path: readonly string[]) => LeafAggregate, path: readonly string[] = []): T {
  const first = runs[0] as unknown;
  if (typeof first === 'number') {
    const values = runs as unknown as number[];
    const kind = how(path);
    if (kind === 'first') return first as unknown as T;
    if (kind === 'max') {
      const finite = values.filter((v) => Number.isFinite(v));
      return (finite.length ? Math.max(...finite) : Number.NaN) as unknown as T;
    }
    return median(values) as unknown as T;
  }
  if (first === null || typeof first !== 'object' || Array.isArray(first)) return runs[0]!;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(first))
    out[k] = aggregateDeep(
      runs.map((r) => (r as Record<string, unknown>)[k]),
      how,
      [...path, k],
    );
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

/** Rounds to `digits` decimals (keeps integers as they are): for display and for measured values, never before judging. */
export function round(v: number, digits = 3): number {
  if (!Number.isFinite(v)) return v;
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

/** a ÷ b, unrounded (NaN when either is not finite or b is 0). */
export function ratio(a: number, b: number): number {
  return b === 0 || !Number.isFinite(a) || !Number.isFinite(b) ? Number.NaN : a / b;
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
