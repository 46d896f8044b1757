import type { LatencySummary, Spread } from '../stats';
import { fmt } from './svg';

/** Decimals fmtRatio shows for a ratio of this size. */
const ratioDecimals = (r: number): number => (Math.abs(r) >= 10 ? 0 : Math.abs(r) >= 1 ? 2 : 3);

/**
 * How the report's text writes numbers: a ratio as ×n, milliseconds, a compact count. Given a
 * target `near`, a ratio gets as many more decimals as it takes (up to 6) for the printed value
 * to fall on the same side of the target as the value itself: 0.89964 against 0.90 is ×0.8996,
 * not ×0.900.
 */
export const fmtRatio = (r: number, near?: number): string => (Number.isFinite(r) ? `×${decimalsBeside(r, ratioDecimals(r), near)}` : 'n/a');
export const fmtMs = (v: number): string => fmt(v, 'ms');
export const fmtNumber = (v: number): string => fmt(v);
/** A plain decimal with at most `maxDecimals` decimals and no trailing zeros (medians are stored unrounded). */
export const fmtDecimal = (v: number, maxDecimals = 3): string => (Number.isFinite(v) ? String(Number(v.toFixed(maxDecimals))) : 'n/a');

/** `v` with `decimals` decimals, or more (up to 6) while the printed value would hide on which side of `near` it is. */
export function decimalsBeside(v: number, decimals: number, near?: number): string {
  let d = decimals;
  const hides = (shown: number): boolean => near !== undefined && v !== near && (shown === near || Math.sign(shown - near) !== Math.sign(v - near));
  while (d < 6 && hides(Number(v.toFixed(d)))) d++;
  return v.toFixed(d);
}

/** A target a value is judged against, on its unrounded value. */
export interface Target {
  op: '≥' | '≤';
  bound: number;
}

/** Met, missed, or n/a for a value that is not a number. */
export function verdict(v: number, t: Target): 'met' | 'missed' | 'n/a' {
  if (!Number.isFinite(v)) return 'n/a';
  return (t.op === '≥' ? v >= t.bound : v <= t.bound) ? 'met' : 'missed';
}

/** A ratio judged against its target: `×0.8996 (target ≥ ×0.90: missed)`, `note` added inside the brackets. */
export function fmtRatioJudged(r: number, t: Target, note = ''): string {
  return `${fmtRatio(r, t.bound)} (target ${t.op} ×${t.bound.toFixed(2)}: ${verdict(r, t)}${note ? `; ${note}` : ''})`;
}

/**
 * A median over rounds with the rounds' range beside it, `f(median) (f(min)–f(max))`; just
 * `f(median)` when every round had the same value or there was one round.
 */
export function fmtSpread(s: Spread, f: (v: number) => string): string {
  if (s.n === 0) return 'n/a';
  const [lo, hi] = [f(s.min), f(s.max)];
  if (s.n === 1 || lo === hi) return f(s.median);
  return `${f(s.median)} (${lo}–${hi})`;
}

/**
 * A p99 with the samples it came from: `12.3 ms (n=450)`, and `8.35 ms (max of 68)` under 100
 * samples, where a nearest-rank p99 is the largest sample.
 */
export function fmtP99(s: Pick<LatencySummary, 'count' | 'p99'>): string {
  if (!(s.count > 0)) return 'n/a (no sample)';
  return `${fmtMs(s.p99)} (${s.count < 100 ? `max of ${fmtNumber(s.count)}` : `n=${fmtNumber(s.count)}`})`;
}
