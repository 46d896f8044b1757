import type { ColdStartResult } from '../../scenarios/cold-start';
import { fmtNumber as n } from '../format';
import type { ReportPage } from '../report-page';

/** Section 1b: PostgreSQL reads per distinct key when three replicas start cold under the same reads. */
export function coldStartSection(cs: ColdStartResult, { md }: ReportPage): void {
  md.push('## 1b. Cold start of three replicas: PostgreSQL reads per cold key', '');
  md.push(
    `${cs.replicas} settings processes (own Redis connections, pools and single-flight, like ${cs.replicas} pods) start against ${n(cs.keysPerRun)} keys nobody has cached; ` +
      `every key is read on all ${cs.replicas} replicas at the same moment, ${cs.concurrency} keys at a time. PostgreSQL reads = the sum over replicas of ` +
      '`settings_db_keys_read_total{kind="account_settings.read"}` (keys read; concurrent misses share a query, the queries are in brackets). With fill leases (the default) one replica loads a cold key and the others read its fill; ' +
      'the control run sets `FILL_LEASE_MS=0` (single-flight per process only), on fresh keys. Target: ≤ 1.05 reads per distinct key.',
    '',
    '| Variant | Distinct keys | Reads (all replicas) | Failed | PostgreSQL reads | Per distinct key | Leases acquired / filled by another / gave up / Redis error | Seconds |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
  );
  for (const r of cs.runs)
    md.push(`| ${r.variant} | ${n(r.distinctKeys)} | ${n(r.reads)} | ${n(r.failedReads)} | ${n(r.postgresReads)}${r.postgresQueries !== undefined ? ` (${n(r.postgresQueries)})` : ''} | ${r.readsPerKey.toFixed(3)} | ${n(r.leases.acquired)} / ${n(r.leases.filledByOther)} / ${n(r.leases.gaveUp)} / ${n(r.leases.redisError ?? 0)} | ${r.seconds} |`);
  md.push('');
}
