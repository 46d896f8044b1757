import type { ReadPathResult } from '../../scenarios/read-path';
import { READ_TARGET_LABELS, READ_TARGETS } from '../../scenarios/read-path';
import { medianRoundRatio, ratioOfMedians, roundRatios, saturatedRps, singleP99, type ReadRunNumbers } from '../../scenarios/read-path-derive';
import { fmtBound, fmtMs as ms, fmtNumber as n, fmtRatio as x, targetVerdict, verdict, verdictOfAll, type Target, type Verdict } from '../format';
import { READ_PATH_TARGETS } from '../targets';
import { spread } from '../../stats';
import type { ReportPage } from '../report-page';
import { barChart, fmt, PALETTE } from '../svg';

export { READ_PATH_TARGETS };

/** What each read-path target compares: which target's runs, and which number of a run. */
const JUDGED: Record<keyof typeof READ_PATH_TARGETS, { target: string; pick: (r: ReadRunNumbers) => number }> = {
  cachedRps: { target: 'cached', pick: saturatedRps },
  cachedSingleP99: { target: 'cached', pick: singleP99 },
  cachedL1OffRps: { target: 'cachedL1Off', pick: saturatedRps },
};

/** A read-path target judged two ways, and how many rounds met it on their own. */
export interface ReadTargetJudgement {
  /** Median of the per-round ratios, unrounded. */
  medianOfRatios: number;
  /** Median of the target's values ÷ median of the empty handler's, unrounded. */
  ratioOfMedians: number;
  roundsMet: number;
  rounds: number;
  /** Met only if both the median of per-round ratios and the ratio of medians meet the target. */
  verdict: Verdict;
}

/**
 * Judges a read-path ratio (settings service ÷ empty handler) against `t`: met only if both the
 * median of the per-round ratios and the ratio of the medians meet it. The first cancels drift of
 * the machine's speed between rounds; the second is not carried by one round whose reference ran
 * unusually slow or fast (with an even number of rounds the median of ratios is the mean of the
 * middle two). When they disagree the rounds do not settle it, and the target is not claimed.
 */
export function judgeReadTarget(runs: readonly ReadRunNumbers[], target: string, pick: (r: ReadRunNumbers) => number, t: Target): ReadTargetJudgement {
  const perRound = roundRatios(runs, target, 'empty', pick).map((r) => r.ratio).filter((v) => Number.isFinite(v));
  const medianOfRatios = medianRoundRatio(runs, target, 'empty', pick);
  const ofMedians = ratioOfMedians(runs, target, 'empty', pick);
  return {
    medianOfRatios,
    ratioOfMedians: ofMedians,
    roundsMet: perRound.filter((v) => verdict(v, t) === 'met').length,
    rounds: perRound.length,
    verdict: verdictOfAll([medianOfRatios, ofMedians], t),
  };
}

/** One of section 1's targets judged on this result's runs. */
export const judgeReadPath = (rp: Pick<ReadPathResult, 'runs'>, key: keyof typeof READ_PATH_TARGETS): ReadTargetJudgement =>
  judgeReadTarget(rp.runs, JUDGED[key].target, JUDGED[key].pick, READ_PATH_TARGETS[key]);

/**
 * `×0.991 median of per-round ratios, ×0.859 ratio of medians, 3 of 6 rounds ≥ ×0.90 (target
 * ≥ ×0.90, both: missed; note)`: both numbers with enough digits to show their side of the bound.
 */
export function fmtReadJudgement(j: ReadTargetJudgement, t: Target, note = ''): string {
  return (
    `${x(j.medianOfRatios, t.bound)} median of per-round ratios, ${x(j.ratioOfMedians, t.bound)} ratio of medians, ${j.roundsMet} of ${j.rounds} rounds ${t.op} ${fmtBound(t)} ` +
    `(${targetVerdict(t, j.verdict, 'both')}${note ? `; ${note}` : ''})`
  );
}

/** A read-path target in words, judged on this result's runs, with the rounds' range of the per-round ratio. */
export function readTargetText(rp: ReadPathResult, key: keyof typeof READ_PATH_TARGETS, withRange = true): string {
  const { target, pick } = JUDGED[key];
  return fmtReadJudgement(judgeReadPath(rp, key), READ_PATH_TARGETS[key], withRange ? roundRange(rp, target, pick) : '');
}

/** Section 1: cached Get against an empty gRPC handler, saturated and one stream at a time. */
export function readPathSection(rp: ReadPathResult, { md, charts, img }: ReportPage): void {
  md.push('## 1. Read path: cached Get vs an empty gRPC handler', '');
  md.push(
    `h2load sends the same pre-encoded GetAccountSettings request (${rp.requestBytes.cached} bytes + 5-byte gRPC frame; ${rp.requestBytes.consistent} bytes for fully_consistent) to ` +
      `the settings service and to an empty grpc-js server that answers with the same ${rp.responseBytes}-byte response at once. ` +
      `Saturated: ${rp.load.clients} connections × ${rp.load.streams} streams for ${rp.load.saturateSeconds} s; one stream: 1 connection, 1 request at a time for ${rp.load.latencySeconds} s. ` +
      `${rp.load.rounds} rounds; in each, the saturated runs of every target back to back, then the one-stream runs, in the order of the table and reversed in the next round (the empty handler and the cached Get are always measured one after the other; drift of this shared machine's speed favours neither over a pair of rounds). ${warmupText(rp)} h2load cannot read gRPC status trailers, so a counted run of 1,000 requests per target checked that every response carried exactly one ${rp.responseBytes}-byte message (an error carries none)${rp.grpcStatusByRound ? ', and no saturated run had a non-OK status' : ''}: ${rp.responsesVerified ? 'yes' : '**NO — see results.json**'}. ${grpcStatusText(rp)} ` +
      `Cache hit share during the cached runs: ${fmt(rp.cacheHitShareDuringCachedRuns * 100)} %, of which served by the near-cache (L1): ${fmt((rp.nearCacheHitShareDuringCachedRuns ?? Number.NaN) * 100)} % of lookups. ` +
      `The near-cache-off target is a second settings process with \`NEAR_CACHE_ENABLED=false\` (every call reads Redis: one MGET per turn of the event loop, shared by the calls that arrived in it; h2load repeats one request, so such an MGET names one entry key however many calls share it), measured in the same rounds. Settings service RSS max during the runs: ${rp.serviceRssMaxMiB} MiB.`,
    '',
  );
  const t = rp.byTarget;
  charts['read-throughput.svg'] = barChart({
    title: 'Get throughput, saturated (median of rounds)',
    subtitle: "in brackets: ÷ the empty handler's median",
    unit: 'req/s',
    groups: READ_TARGETS.map((k, i) => ({
      label: READ_TARGET_LABELS[k].replace(/ \(.*\)$/, '') + (k === 'cachedL1Off' ? ' (L1 off)' : ''),
      bars: [{ label: k, value: t[k].rps, color: PALETTE[i]!, note: k === 'empty' ? '' : `(${x(ratioOf(rp, k), k === 'cached' ? READ_PATH_TARGETS.cachedRps.bound : k === 'cachedL1Off' ? READ_PATH_TARGETS.cachedL1OffRps.bound : undefined)})` }],
    })),
  });
  charts['read-latency.svg'] = barChart({
    title: 'Get latency, one stream (median of rounds)',
    unit: 'ms',
    legend: [
      { label: 'p50', color: PALETTE[0]! },
      { label: 'p99', color: PALETTE[1]! },
    ],
    groups: READ_TARGETS.map((k) => ({
      label: READ_TARGET_LABELS[k].replace(/ \(.*\)$/, '') + (k === 'cachedL1Off' ? ' (L1 off)' : ''),
      bars: [
        { label: 'p50', value: t[k].singleP50Ms, color: PALETTE[0]! },
        { label: 'p99', value: t[k].singleP99Ms, color: PALETTE[1]! },
      ],
    })),
  });
  md.push(img('read-throughput.svg', 'Get throughput'), '', img('read-latency.svg', 'Get latency'), '');
  md.push('| Target | Saturated req/s | Saturated p50 | Saturated p99 | One-stream req/s | One-stream p50 | One-stream p99 |', '| --- | --- | --- | --- | --- | --- | --- |');
  for (const k of READ_TARGETS)
    md.push(`| ${READ_TARGET_LABELS[k]} | ${n(t[k].rps)} | ${ms(t[k].p50Ms)} | ${ms(t[k].p99Ms)} | ${n(t[k].singleRps)} | ${ms(t[k].singleP50Ms)} | ${ms(t[k].singleP99Ms)} |`);
  md.push(
    '',
    `Ratios, settings service ÷ empty handler, taken two ways: the median of the per-round ratios (each round's pair is measured seconds apart, so drift of the machine's speed between rounds cancels) ` +
      `and the ratio of the medians in the table above (${rp.load.rounds % 2 === 0 ? `with ${rp.load.rounds} rounds the median of the ratios is the mean of the middle two, so` : `with ${rp.load.rounds} round(s) the median of the ratios is one round's own ratio, so`} one round whose empty-handler run was unusually slow or fast can carry the median of the ratios past a target; it moves a median of the values far less). ` +
      `A target is met only if both meet it, judged unrounded; beside them, how many rounds' own ratio met it, and the rounds' range. ` +
      `Cached throughput ${readTargetText(rp, 'cachedRps')}; cached one-stream p50 ${x(rp.ratios.cachedSingleP50)} (median of per-round ratios), p99 ${readTargetText(rp, 'cachedSingleP99')}; ` +
      `near-cache off: throughput ${readTargetText(rp, 'cachedL1OffRps')}, one-stream p99 ${x(rp.ratios.cachedL1OffSingleP99)}; fully_consistent throughput ${x(rp.ratios.consistentRps)}, one-stream p50 ${x(rp.ratios.consistentSingleP50)} (medians of per-round ratios; no target).`,
    '',
    `Saturated throughput ÷ the empty handler's in the same round, round by round (the spread is this machine's noise): cached ${perRoundRatios(rp, 'cached', READ_PATH_TARGETS.cachedRps.bound)}; near-cache off ${perRoundRatios(rp, 'cachedL1Off', READ_PATH_TARGETS.cachedL1OffRps.bound)}; the empty handler's own req/s, round by round: ${roundValues(rp, 'empty', saturatedRps).map((v) => (Number.isFinite(v) ? n(v) : '–')).join(', ')}.`,
    '',
  );
  cpuPerRequestTable(rp, md);
}

type Run = ReadPathResult['runs'][number];

/** Each round's `pick(k)` ÷ the empty handler's, in round order (NaN for a round without both). */
export function perRoundRatioValues(rp: ReadPathResult, k: string, pick: (r: Run) => number): number[] {
  const rounds = [...new Set(rp.runs.map((r) => r.round))].sort((a, b) => a - b);
  const of = (t: string, round: number): Run | undefined => rp.runs.find((r) => r.target === t && r.round === round);
  return rounds.map((round) => {
    const [a, b] = [of(k, round), of('empty', round)];
    return a && b && pick(b) > 0 ? pick(a) / pick(b) : Number.NaN;
  });
}

/** Each round's saturated req/s of `k` ÷ the empty handler's, in round order, with enough digits to show their side of `near`. */
function perRoundRatios(rp: ReadPathResult, k: 'cached' | 'cachedL1Off', near: number): string {
  return perRoundRatioValues(rp, k, (r) => r.saturated.rps)
    .map((v) => (Number.isFinite(v) ? x(v, near) : '–'))
    .join(', ');
}

/** One target's `pick` in each round, in round order (NaN for a round that did not measure it). */
function roundValues(rp: ReadPathResult, target: string, pick: (r: Run) => number): number[] {
  const rounds = [...new Set(rp.runs.map((r) => r.round))].sort((a, b) => a - b);
  return rounds.map((round) => {
    const run = rp.runs.find((r) => r.target === target && r.round === round);
    return run ? pick(run) : Number.NaN;
  });
}

/**
 * How the rounds began: the warm-up's order and the wait for the CPU to settle before each
 * round; for results from before both, what their warm-up did to round 1.
 */
function warmupText(rp: ReadPathResult): string {
  const w = rp.warmup;
  if (w) {
    const waits = w.settledBeforeRound.map((r) => `${fmt(r.waitedSeconds)}${r.settled ? '' : ` (still ${fmt(r.busyShare * 100)} % busy)`}`).join(', ');
    return (
      `Before round 1, an unmeasured warm-up of every target in the order ${w.order.join(', ')} (the fully_consistent run, which saturates PostgreSQL, first, so that round 1 does not start on its leftover load); ` +
      `each round started once the machine's CPU had been less than ${fmt(w.settle.busyBelow * 100)} % busy over ${fmt(w.settle.windowMs / 1000)} s (waiting at most ${fmt(w.settle.maxMs / 1000)} s): waited ${waits} s before rounds 1–${w.settledBeforeRound.length}.`
    );
  }
  const empty = roundValues(rp, 'empty', saturatedRps);
  const others = spread(empty.slice(1));
  return (
    'Before round 1, an unmeasured warm-up of every target in the order of the table: its last run, fully_consistent, saturating PostgreSQL, ended right before round 1\'s first run (the empty handler\'s), and no round waited for the CPU to settle (the bench has since warmed up in the reverse order and waited before each round)' +
    (empty.length > 1 && Number.isFinite(empty[0]!) && others.n > 0 ? `; round 1's empty-handler run made ${n(empty[0]!)} req/s, against a median of ${n(others.median)} in the other rounds.` : '.')
  );
}

/** `rounds ×a–×b`: the lowest and highest per-round ratio ('' for one round). */
export function roundRange(rp: ReadPathResult, k: string, pick: (r: Run) => number): string {
  const s = spread(perRoundRatioValues(rp, k, pick));
  return s.n > 1 ? `rounds ${x(s.min)}–${x(s.max)}` : '';
}

/** What the services' own status counters said of the saturated runs (results from before they were read say nothing). */
function grpcStatusText(rp: ReadPathResult): string {
  const g = rp.grpcStatusByRound;
  if (!g) return "The saturated runs' gRPC status codes were not read in this run (an error is an HTTP 200 to h2load, so their req/s could include failed calls).";
  const failed = g.filter((r) => !r.verified);
  const nonOk = g.reduce((a, r) => a + r.nonOkCalls, 0);
  return (
    `The settings processes' own \`settings_grpc_requests_total{method="GetAccountSettings",code}\`, read before and after every saturated run, counted ${n(nonOk)} non-OK call(s) ` +
    (failed.length ? `(round(s) ${failed.map((r) => `${r.round}${r.nonOkCalls ? `: ${Object.entries(r.nonOkByCode).map(([c, k]) => `${n(k)} ${c}`).join(', ')}` : ': counter not read'}`).join('; ')} fail verification).` : '(every round verified).') +
    consistentShedText(g)
  );
}

/** The fully_consistent target's shed calls: h2load is one caller over its deliberate-read share. */
function consistentShedText(g: NonNullable<ReadPathResult['grpcStatusByRound']>): string {
  const byCode: Record<string, number> = {};
  for (const r of g) for (const [c, k] of Object.entries(r.consistentNonOkByCode ?? {})) byCode[c] = (byCode[c] ?? 0) + k;
  const codes = Object.entries(byCode);
  if (codes.length === 0) return '';
  return (
    ` The fully_consistent target's saturated runs were answered ${codes.map(([c, k]) => `${n(k)} ${c}`).join(', ')} in all: h2load is one caller, over its ` +
    'deliberate-read share, which the service sheds by design; its req/s above counts those answers, so it is not a throughput of fully_consistent reads.'
  );
}

/** The chart's note: the bars' own ratio, the target's median ÷ the empty handler's (the text gives the median of per-round ratios beside it). */
function ratioOf(rp: ReadPathResult, k: Exclude<(typeof READ_TARGETS)[number], 'empty'>): number {
  return ratioOfMedians(rp.runs, k, 'empty', saturatedRps);
}

/** CPU per request paced against saturated: what a request costs when it arrives alone. */
function cpuPerRequestTable(rp: ReadPathResult, md: string[]): void {
  // Results from before this was measured have none.
  const by = rp.cpuPerRequest?.byTarget;
  if (!by || Object.keys(by).length === 0) return;
  md.push(
    `**CPU per request, alone or batched.** CPU time the target process spent per answered request (user + system, every thread, from \`/proc/<pid>/stat\`): ` +
      `paced at ${n(rp.cpuPerRequest.pacedRps)} req/s on one stream (each request arrives alone, the process sleeps between them), and saturated (a counted run, ${rp.load.clients} × ${rp.load.streams} streams). ` +
      'On this shared 2-core VM a request that wakes an idle process costs several times what it costs in a busy one, for the empty grpc-js handler as much as for the service: ' +
      'the incident replay (section 3) runs at such rates.',
    '',
    '| Target | Paced µs/request | Saturated µs/request | Paced / saturated |',
    '| --- | --- | --- | --- |',
  );
  for (const k of READ_TARGETS) {
    const c = by[k];
    if (c) md.push(`| ${READ_TARGET_LABELS[k]} | ${n(c.pacedMicros)} | ${n(c.saturatedMicros)} | ${x(c.pacedMicros / c.saturatedMicros)} |`);
  }
  md.push('');
}
