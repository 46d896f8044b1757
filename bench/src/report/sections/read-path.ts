import type { ReadPathResult } from '../../scenarios/read-path';
import { READ_TARGET_LABELS, READ_TARGETS } from '../../scenarios/read-path';
import { fmtMs as ms, fmtNumber as n, fmtRatio as x } from '../format';
import type { ReportPage } from '../report-page';
import { barChart, fmt, PALETTE } from '../svg';

/** Section 1: cached Get against an empty gRPC handler, saturated and one stream at a time. */
export function readPathSection(rp: ReadPathResult, { md, charts, img }: ReportPage): void {
  md.push('## 1. Read path: cached Get vs an empty gRPC handler', '');
  md.push(
    `h2load sends the same pre-encoded GetAccountSettings request (${rp.requestBytes.cached} bytes + 5-byte gRPC frame; ${rp.requestBytes.consistent} bytes for fully_consistent) to ` +
      `the settings service and to an empty grpc-js server that answers with the same ${rp.responseBytes}-byte response at once. ` +
      `Saturated: ${rp.load.clients} connections × ${rp.load.streams} streams for ${rp.load.saturateSeconds} s; one stream: 1 connection, 1 request at a time for ${rp.load.latencySeconds} s. ` +
      `${rp.load.rounds} rounds; in each, the saturated runs of every target back to back, then the one-stream runs, in the order of the table and reversed in the next round (the empty handler and the cached Get are always measured one after the other; drift of this shared machine's speed favours neither over a pair of rounds). h2load cannot read gRPC status trailers, so a counted run of 1,000 requests per target checked that every response carried exactly one ${rp.responseBytes}-byte message (an error carries none): ${rp.responsesVerified ? 'yes' : '**NO — see results.json**'}. ` +
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
      bars: [{ label: k, value: t[k].rps, color: PALETTE[i]!, note: k === 'empty' ? '' : `(${x(ratioOf(rp, k))})` }],
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
    `Ratios (median of per-round ratios, settings service ÷ empty handler): cached throughput ${x(rp.ratios.cachedRps)} (target ≥ 0.90×), cached one-stream p50 ${x(rp.ratios.cachedSingleP50)}, p99 ${x(rp.ratios.cachedSingleP99)} (target ≤ 1.3×); ` +
      `near-cache off: throughput ${x(rp.ratios.cachedL1OffRps)} (target ≥ 0.75×), one-stream p99 ${x(rp.ratios.cachedL1OffSingleP99)}; fully_consistent throughput ${x(rp.ratios.consistentRps)}, one-stream p50 ${x(rp.ratios.consistentSingleP50)}.`,
    '',
    `Saturated throughput ÷ the empty handler's in the same round, round by round (the spread is this machine's noise): cached ${perRoundRatios(rp, 'cached')}; near-cache off ${perRoundRatios(rp, 'cachedL1Off')}.`,
    '',
  );
  cpuPerRequestTable(rp, md);
}

/** Each round's saturated req/s of `k` ÷ the empty handler's, in round order. */
function perRoundRatios(rp: ReadPathResult, k: 'cached' | 'cachedL1Off'): string {
  const rounds = [...new Set(rp.runs.map((r) => r.round))];
  const rps = (t: string, round: number): number | undefined => rp.runs.find((r) => r.target === t && r.round === round)?.saturated.rps;
  return rounds
    .map((round) => {
      const [a, b] = [rps(k, round), rps('empty', round)];
      return a !== undefined && b !== undefined && b > 0 ? x(a / b) : '–';
    })
    .join(', ');
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
