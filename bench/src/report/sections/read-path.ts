import type { ReadPathResult } from '../../scenarios/read-path';
import { READ_TARGET_LABELS, READ_TARGETS } from '../../scenarios/read-path';
import { fmtMs as ms, fmtNumber as n, fmtRatio as x, fmtRatioJudged, type Target } from '../format';
import { spread } from '../../stats';
import type { ReportPage } from '../report-page';
import { barChart, fmt, PALETTE } from '../svg';

/**
 * The read path's targets, judged on the unrounded median of the per-round ratios (the display
 * adds digits until it shows on which side of the target the value is).
 */
export const READ_PATH_TARGETS = {
  cachedRps: { op: '≥', bound: 0.9 },
  cachedSingleP99: { op: '≤', bound: 1.3 },
  cachedL1OffRps: { op: '≥', bound: 0.75 },
} as const satisfies Record<string, Target>;

/** Section 1: cached Get against an empty gRPC handler, saturated and one stream at a time. */
export function readPathSection(rp: ReadPathResult, { md, charts, img }: ReportPage): void {
  md.push('## 1. Read path: cached Get vs an empty gRPC handler', '');
  md.push(
    `h2load sends the same pre-encoded GetAccountSettings request (${rp.requestBytes.cached} bytes + 5-byte gRPC frame; ${rp.requestBytes.consistent} bytes for fully_consistent) to ` +
      `the settings service and to an empty grpc-js server that answers with the same ${rp.responseBytes}-byte response at once. ` +
      `Saturated: ${rp.load.clients} connections × ${rp.load.streams} streams for ${rp.load.saturateSeconds} s; one stream: 1 connection, 1 request at a time for ${rp.load.latencySeconds} s. ` +
      `${rp.load.rounds} rounds; in each, the saturated runs of every target back to back, then the one-stream runs, in the order of the table and reversed in the next round (the empty handler and the cached Get are always measured one after the other; drift of this shared machine's speed favours neither over a pair of rounds). h2load cannot read gRPC status trailers, so a counted run of 1,000 requests per target checked that every response carried exactly one ${rp.responseBytes}-byte message (an error carries none)${rp.grpcStatusByRound ? ', and no saturated run had a non-OK status' : ''}: ${rp.responsesVerified ? 'yes' : '**NO — see results.json**'}. ${grpcStatusText(rp)} ` +
      `Cache hit share during the cached runs: ${fmt(rp.cacheHitShareDuringCachedRuns * 100)} %, of which served by the near-cache (L1): ${fmt((rp.nearCacheHitShareDuringCachedRuns ?? Number.NaN) * 100)} % of lookups. ` +
      `The near-cache-off target is a second settings process with \`NEAR_CACHE_ENABLED=false\` (every call reads Redis: one MGET per turn of the event loop, shared by the calls that arrived in it; h2load repeats one request, so such an MGET names one entry key however many calls share it), measured in the same rounds. Settings service RSS max during the runs: ${rp.serviceRssMaxMiB} MiB.`,
    '',
  );
  const t = rp.byTarget;
  charts['read-throughput.svg'] = barChart({
    title: 'Get throughput, saturated (median of rounds)',
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
    `Ratios (median of per-round ratios, settings service ÷ empty handler, judged unrounded, with the rounds' range): cached throughput ${fmtRatioJudged(rp.ratios.cachedRps, READ_PATH_TARGETS.cachedRps, roundRange(rp, 'cached', (r) => r.saturated.rps))}, ` +
      `cached one-stream p50 ${x(rp.ratios.cachedSingleP50)}, p99 ${fmtRatioJudged(rp.ratios.cachedSingleP99, READ_PATH_TARGETS.cachedSingleP99, roundRange(rp, 'cached', (r) => r.single.latencyMs.p99))}; ` +
      `near-cache off: throughput ${fmtRatioJudged(rp.ratios.cachedL1OffRps, READ_PATH_TARGETS.cachedL1OffRps, roundRange(rp, 'cachedL1Off', (r) => r.saturated.rps))}, one-stream p99 ${x(rp.ratios.cachedL1OffSingleP99)}; fully_consistent throughput ${x(rp.ratios.consistentRps)}, one-stream p50 ${x(rp.ratios.consistentSingleP50)}.`,
    '',
    `Saturated throughput ÷ the empty handler's in the same round, round by round (the spread is this machine's noise): cached ${perRoundRatios(rp, 'cached', READ_PATH_TARGETS.cachedRps.bound)}; near-cache off ${perRoundRatios(rp, 'cachedL1Off', READ_PATH_TARGETS.cachedL1OffRps.bound)}.`,
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

function ratioOf(rp: ReadPathResult, k: Exclude<(typeof READ_TARGETS)[number], 'empty'>): number {
  return k === 'cached' ? rp.ratios.cachedRps : k === 'cachedL1Off' ? rp.ratios.cachedL1OffRps : rp.ratios.consistentRps;
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
