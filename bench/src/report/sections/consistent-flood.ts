import type { FloodPhase, FloodResult } from '../../scenarios/consistent-flood';
import { fmtMs as ms, fmtNumber as n, fmtRatio as x } from '../format';
import type { ReportPage } from '../report-page';

/** One caller's fully_consistent flood against another caller's reads and saves (issue 11: ≤ 2× p99). */
export function consistentFloodSection(f: FloodResult, { md }: ReportPage): void {
  md.push('## A fully_consistent flood from one caller', '');
  md.push(
    `One caller (its own JWT \`sub\`) floods \`fully_consistent\` GetAccountSettings with h2load (1 connection × ${f.load.floodStreams} streams, as fast as it is answered); ` +
      `another caller keeps its traffic: ${f.load.victimCachedReadsPerSecond}/s cached reads, ${f.load.victimConsistentReadsPerSecond}/s fully_consistent reads and ${f.load.victimSavesPerSecond}/s saves over 100 accounts (open loop, ${f.load.phaseSeconds} s per phase). ` +
      `Each round measures the other caller without the flood and with it (order alternating), against one settings process with the deliberate-read limiter at ${f.limiter.capacity} permits, ${f.limiter.perCaller} per caller, ${f.limiter.maxWaitMs} ms wait, ` +
      `${!f.limiter.perCallerPerSecond ? 'no per-caller rate' : `${f.limiter.perCallerPerSecond} deliberate calls/s per caller (burst ${f.limiter.perCallerBurst}; every call spends one, also one that shares another call's query)`}, refusals made without waiting answered after ${f.limiter.refusalDelayMs ?? 0} ms. ` +
      `${f.rounds.length} round(s); medians over rounds. Target: the other caller's read and save p99 with the flood ≤ 2× without it.`,
    '',
  );
  const row = (what: string, p: FloodPhase): string =>
    `| ${what} | ${ms(p.cachedReads.p50)} / ${ms(p.cachedReads.p99)} | ${ms(p.consistentReads.p50)} / ${ms(p.consistentReads.p99)} | ${ms(p.saves.p50)} / ${ms(p.saves.p99)} | ${n(p.victimErrors)} | ${n(p.flood.rps)} | ${n(p.deliberate.admitted + p.deliberate.waited)} / ${n(p.deliberate.shed + (p.deliberate.rateLimited ?? 0))} |`;
  md.push(
    '| Phase | Other caller: cached read p50 / p99 | fully_consistent read p50 / p99 | save p50 / p99 | its errors | Flood req/s | Database reads admitted / calls refused |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    row('without the flood', f.median.baseline),
    row('with the flood', f.median.flooded),
    '',
    `Ratios (median of per-round ratios, with ÷ without): cached read p99 ${x(f.ratios.cachedReadP99)}, fully_consistent read p99 ${x(f.ratios.consistentReadP99)}, save p99 ${x(f.ratios.saveP99)}. ` +
      'Flood requests beyond the flooder\'s share are answered RESOURCE_EXHAUSTED (`CALLER_SHARE_EXCEEDED`); h2load cannot read gRPC statuses, so its req/s counts them as answered — the server-side counts say what happened: database reads admitted (a permit each; calls for one key that arrive together share one read), and calls refused over the share or over the rate.',
    '',
  );
}
