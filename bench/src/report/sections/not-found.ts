import { NOT_FOUND_TARGETS, NOT_FOUND_TARGET_LABELS, unexpectedCalls, type NotFoundResult } from '../../scenarios/not-found';
import { fmtDecimal, fmtMs as ms, fmtNumber as n, fmtRatio as x } from '../format';
import type { ReportPage } from '../report-page';

/** Section 1c: Gets of a name with no row, with the absence cached and without. */
export function notFoundSection(nf: NotFoundResult, { md }: ReportPage): void {
  md.push('## 1c. Gets of a name that does not exist', '');
  md.push(
    `h2load, ${nf.load.clients} connections × ${nf.load.streams} streams, ${nf.load.saturateSeconds} s per run, ${nf.load.rounds} interleaved rounds (order reversed every other round). ` +
      'One settings process caches absences (the default: the first NOT_FOUND fills a version-0 entry, the next ones are answered from the near-cache); a second one, side by side, runs with `CACHE_NOT_FOUND_TTL_SECONDS=0`, so every such Get reads PostgreSQL (single-flight still coalesces concurrent ones). ' +
      'The reference is a cached Get of a name that exists, on the first process. PostgreSQL reads per request = the process\'s `settings_db_keys_read_total{kind="account_settings.read"}` over the run ÷ answered requests' +
      (nf.postgresReadsFromWarmupEnd
        ? ', the counter read when h2load\'s warm-up was over (its warm-up requests are not among the answered ones). '
        : `; **in this run the counter was read before h2load's warm-up, whose requests are not among the answered ones: these per-request figures are overstated by up to the warm-up's share of the run**. `) +
      `Pre-flight status codes (h2load cannot see gRPC trailers): ${NOT_FOUND_TARGETS.map((t) => `${t} ${nf.preflightCodes[t]}`).join(', ')}. ` +
      statusCheck(nf),
    '',
    '| Target | req/s | p50 | p99 | PostgreSQL reads per request | ÷ cached Get of an existing name (median of rounds) |',
    '| --- | --- | --- | --- | --- | --- |',
  );
  for (const t of NOT_FOUND_TARGETS) {
    const b = nf.byTarget[t];
    const r = t === 'absent' ? x(nf.ratios.absentRps) : t === 'absentUncached' ? x(nf.ratios.absentUncachedRps) : '';
    md.push(`| ${NOT_FOUND_TARGET_LABELS[t]} | ${n(b.rps)} | ${ms(b.p50Ms)} | ${ms(b.p99Ms)} | ${fmtDecimal(b.postgresReadsPerRequest, 4)} | ${r} |`);
  }
  md.push('');
}

/** Whether every measured call ended with its target's status (OK, NOT_FOUND), by the process's own counter. */
function statusCheck(nf: NotFoundResult): string {
  const counted = nf.runs.map(unexpectedCalls);
  if (counted.some((c) => c === undefined)) return 'The measured calls\' statuses were not counted in this run.';
  const wrong = counted.reduce<number>((a, c) => a + (c ?? 0), 0);
  return wrong === 0
    ? 'Every measured call ended with its target\'s status (OK, NOT_FOUND), by the process\'s own `settings_grpc_requests_total`.'
    : `**${wrong} measured calls ended with another status than their target's** (results.json, \`grpcCodes\` per run): the rates above count them.`;
}
