import { nonOkCalls } from '../grpc-status';
import { median, ratio } from '../stats';

/**
 * The read path's medians, ratios and status checks from its runs (pure: the scenario computes them after
 * measuring, render.ts again from a stored results.json, so a corrected derivation applies to
 * old runs too). Nothing is rounded here: targets are judged on these values (report/format.ts
 * rounds for display).
 */

/** What the derivations need of one run (read-path.ts ReadRun has it). */
export interface ReadRunNumbers {
  round: number;
  target: string;
  saturated: { rps: number; latencyMs: { p50: number; p99: number } };
  single: { rps: number; latencyMs: { p50: number; p99: number } };
}

/** What the status check needs of one run: its round, target, h2load's completed requests and the counter's codes. */
export interface ReadRunStatus {
  round: number;
  target: string;
  saturated: { requests: number };
  saturatedGrpcCodes?: Record<string, number>;
}

/** Medians over rounds of the per-round ratio (settings service ÷ empty handler). */
export interface ReadPathRatios {
  cachedRps: number;
  consistentRps: number;
  cachedSingleP50: number;
  cachedSingleP99: number;
  consistentSingleP50: number;
  cachedL1OffRps: number;
  cachedL1OffSingleP99: number;
}

export interface TargetMedians {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  singleP50Ms: number;
  singleP99Ms: number;
  singleRps: number;
}

/** Each round's `pick(a)` ÷ `pick(b)`, in round order, for the rounds that measured both. */
export function roundRatios(runs: readonly ReadRunNumbers[], a: string, b: string, pick: (r: ReadRunNumbers) => number): Array<{ round: number; ratio: number }> {
  const rounds = [...new Set(runs.map((r) => r.round))].sort((x, y) => x - y);
  const find = (t: string, round: number): ReadRunNumbers | undefined => runs.find((r) => r.target === t && r.round === round);
  return rounds.flatMap((round) => {
    const [ra, rb] = [find(a, round), find(b, round)];
    return ra && rb ? [{ round, ratio: ratio(pick(ra), pick(rb)) }] : [];
  });
}

/** Median of the per-round ratios (never a ratio of medians: the machine's speed drifts between rounds). */
export const medianRoundRatio = (runs: readonly ReadRunNumbers[], a: string, b: string, pick: (r: ReadRunNumbers) => number): number => median(roundRatios(runs, a, b, pick).map((r) => r.ratio));

/**
 * The median of `a`'s values over the rounds that measured both ÷ the median of `b`'s: with an
 * even number of rounds a median of per-round ratios is the mean of the middle two, and one round
 * whose reference ran unusually slow can carry it; a median of the values themselves is not moved
 * by one round's outlier. The report judges a read-path target on both.
 */
export function ratioOfMedians(runs: readonly ReadRunNumbers[], a: string, b: string, pick: (r: ReadRunNumbers) => number): number {
  const rounds = new Set(roundRatios(runs, a, b, pick).map((r) => r.round));
  const values = (t: string): number[] => runs.filter((r) => r.target === t && rounds.has(r.round)).map(pick);
  return ratio(median(values(a)), median(values(b)));
}

export const saturatedRps = (r: ReadRunNumbers): number => r.saturated.rps;
export const singleP99 = (r: ReadRunNumbers): number => r.single.latencyMs.p99;

export function readPathRatios(runs: readonly ReadRunNumbers[]): ReadPathRatios {
  const m = (a: string, pick: (r: ReadRunNumbers) => number): number => medianRoundRatio(runs, a, 'empty', pick);
  return {
    cachedRps: m('cached', saturatedRps),
    consistentRps: m('consistent', saturatedRps),
    cachedSingleP50: m('cached', (r) => r.single.latencyMs.p50),
    cachedSingleP99: m('cached', singleP99),
    consistentSingleP50: m('consistent', (r) => r.single.latencyMs.p50),
    cachedL1OffRps: m('cachedL1Off', saturatedRps),
    cachedL1OffSingleP99: m('cachedL1Off', (r) => r.single.latencyMs.p99),
  };
}

export function targetMedians(runs: readonly ReadRunNumbers[], target: string): TargetMedians {
  const rs = runs.filter((r) => r.target === target);
  return {
    rps: median(rs.map((r) => r.saturated.rps)),
    p50Ms: median(rs.map((r) => r.saturated.latencyMs.p50)),
    p99Ms: median(rs.map((r) => r.saturated.latencyMs.p99)),
    singleRps: median(rs.map((r) => r.single.rps)),
    singleP50Ms: median(rs.map((r) => r.single.latencyMs.p50)),
    singleP99Ms: median(rs.map((r) => r.single.latencyMs.p99)),
  };
}

/**
 * One round's saturated runs against the services' status counters: any non-OK call fails the
 * round's verification, and so does a run whose counter saw fewer calls than h2load completed
 * (the counter was not read, or not from this process).
 */
export interface RoundGrpcCheck {
  round: number;
  nonOkCalls: number;
  /** Non-OK calls by status code, over the round's saturated runs of the cached targets. */
  nonOkByCode: Record<string, number>;
  /**
   * The fully_consistent target's non-OK calls by code: reported, not a verification failure.
   * h2load is one caller, and its saturated fully_consistent reads are over that caller's
   * deliberate-read share, which the service sheds by design (RESOURCE_EXHAUSTED
   * CALLER_SHARE_EXCEEDED): h2load's req/s for that target counts those answers too.
   */
  consistentNonOkByCode?: Record<string, number>;
  verified: boolean;
}

/** Targets whose saturated runs may be shed by design (deliberate reads over one caller's share). */
const SHED_BY_DESIGN = new Set(['consistent']);

/** Each round's saturated runs of the settings targets (not the empty handler): their non-OK calls, and whether the round passes. */
export function grpcChecksByRound(runs: readonly ReadRunStatus[]): RoundGrpcCheck[] {
  const rounds = [...new Set(runs.map((r) => r.round))].sort((a, b) => a - b);
  return rounds.map((round) => {
    const checked = runs.filter((r) => r.round === round && r.target !== 'empty');
    const nonOkByCode: Record<string, number> = {};
    const consistentNonOkByCode: Record<string, number> = {};
    let counted = true;
    for (const r of checked) {
      const codes = r.saturatedGrpcCodes;
      if (!codes || Object.values(codes).reduce((a, b) => a + b, 0) < r.saturated.requests) counted = false;
      const into = SHED_BY_DESIGN.has(r.target) ? consistentNonOkByCode : nonOkByCode;
      for (const [code, n] of Object.entries(codes ?? {})) if (code !== 'OK') into[code] = (into[code] ?? 0) + n;
    }
    const nonOk = nonOkCalls(nonOkByCode);
    return { round, nonOkCalls: nonOk, nonOkByCode, ...(Object.keys(consistentNonOkByCode).length ? { consistentNonOkByCode } : {}), verified: counted && nonOk === 0 };
  });
}
