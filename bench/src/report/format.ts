import type { LatencySummary, Spread } from '../stats';
import { fmt } from './svg';

/**
 * Decimals that show `v` with `sig` significant digits (×0.887, ×1.44, ×10.1, ×123), at most 6;
 * one fewer when rounding carries into a new digit (9.996 → 10.0, not 10.00).
 */
export function sigDecimals(v: number, sig = 3): number {
  const a = Math.abs(v);
  if (!Number.isFinite(a) || a === 0) return sig - 1;
  let d = Math.min(6, Math.max(0, sig - 1 - Math.floor(Math.log10(a))));
  if (d > 0 && Math.abs(Number(v.toFixed(d))) >= 10 ** (sig - d)) d--;
  return d;
}

/**
 * How the report's text writes numbers: a ratio as ×n with 3 significant digits, milliseconds,
 * a compact count. Given a target `near`, a ratio gets as many more decimals as it takes (up to 6)
 * for the printed value to fall on the same side of the target as the value itself: 0.89964
 * against 0.90 is ×0.8996, not ×0.900.
 */
export const fmtRatio = (r: number, near?: number): string => (Number.isFinite(r) ? `×${decimalsBeside(r, sigDecimals(r), near)}` : 'n/a');
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

/**
 * A target a value is judged against, on its unrounded value: a ratio (×, the default), a
 * latency in milliseconds or a duration in seconds.
 */
export interface Target {
  op: '≥' | '≤';
  bound: number;
  unit?: 'ratio' | 'ms' | 's';
}

export type Verdict = 'met' | 'missed' | 'n/a';

/** Met, missed, or n/a for a value that is not a number. */
export function verdict(v: number, t: Target): Verdict {
  if (!Number.isFinite(v)) return 'n/a';
  return (t.op === '≥' ? v >= t.bound : v <= t.bound) ? 'met' : 'missed';
}

/** Met only if every value meets the target; n/a if any is not a number. */
export function verdictOfAll(values: readonly number[], t: Target): Verdict {
  const each = values.map((v) => verdict(v, t));
  if (each.length === 0 || each.includes('n/a')) return 'n/a';
  return each.every((e) => e === 'met') ? 'met' : 'missed';
}

/** The bound as the report writes it: `×0.90`, `200 ms`, `4 s`. */
export function fmtBound(t: Target): string {
  return t.unit === 'ms' ? `${fmtDecimal(t.bound)} ms` : t.unit === 's' ? `${fmtDecimal(t.bound)} s` : `×${t.bound.toFixed(2)}`;
}

/** A value in its target's unit, with enough digits to show on which side of the bound it is. */
export function fmtAgainst(v: number, t: Target): string {
  if (!Number.isFinite(v)) return 'n/a';
  if (t.unit === 'ms' || t.unit === 's') return `${String(Number(decimalsBeside(v, sigDecimals(v), t.bound)))} ${t.unit}`;
  return fmtRatio(v, t.bound);
}

/**
 * The one way the report words a verdict: `target ≤ 200 ms: met`; `rule` says what had to meet
 * it when that is not the value itself (`target ≥ ×0.90, both: missed`).
 */
export function targetVerdict(t: Target, v: Verdict, rule = ''): string {
  return `target ${t.op} ${fmtBound(t)}${rule ? `, ${rule}` : ''}: ${v}`;
}

/** A value judged against its target: `115 ms (target ≤ 200 ms: met)`, `note` added inside the brackets. */
export function fmtJudged(v: number, t: Target, note = ''): string {
  return `${fmtAgainst(v, t)} (${targetVerdict(t, verdict(v, t))}${note ? `; ${note}` : ''})`;
}

/** A ratio judged against its target: `×0.8996 (target ≥ ×0.90: missed)`, `note` added inside the brackets. */
export function fmtRatioJudged(r: number, t: Target, note = ''): string {
  return fmtJudged(r, { ...t, unit: 'ratio' }, note);
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
