import type { BulkDrainResult } from '../../scenarios/bulk-drain';
import { fmtNumber as n, fmtRatio as x } from '../format';
import type { ReportPage } from '../report-page';

/** The bulk change end to end: commit → last key evicted, split into Debezium and invalidator. */
export function bulkDrainSection(b: BulkDrainResult, { md }: ReportPage): void {
  md.push('## Bulk change: commit → last key evicted', '');
  md.push(
    `One \`UPDATE\` of ${n(b.rows)} account rows, committed while ${n(b.readsPerSecond)} reads/s hit ${n(b.hotAccounts)} other, cached accounts through a real settings service. ` +
      `Default configuration: one invalidator with the adaptive ceiling (hard maximum ${n(b.invalidatorMaxKeysPerSecond)} keys/s). ` +
      'Debezium is done when the topic end offsets have moved by the row count; the invalidator when its `invalidator_keys_applied_total` has. ' +
      `Cached-read latency: baseline = the seconds before the commit, drain = commit → last key evicted. ${b.rounds.length} round(s), medians below.`,
    '',
  );
  const m = b.median;
  md.push(
    `**Median: commit → last key evicted ${m.commitToLastEvictedSeconds} s** (Debezium: commit → last event in Kafka ${m.commitToPublishedSeconds} s, ${n(m.debeziumEventsPerSecond)} events/s; invalidator drain ${n(m.invalidatorKeysPerSecond)} keys/s); ` +
      `cached-read p99 ${m.baselineReadP99Ms} ms baseline → ${m.drainReadP99Ms} ms during the drain (${x(m.readP99Ratio)}); ${m.invalidatorOnlyReadP99Ms} ms while only the invalidator worked (last event in Kafka → last key evicted).`,
    '',
  );
  md.push('| Round | Commit → published s | Debezium events/s | Commit → last evicted s | Invalidator keys/s | Lowest ceiling keys/s | Not evicted | Read p99 baseline ms | Read p99 drain ms | Read p99 invalidator alone ms |', '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const r of b.rounds) {
    md.push(`| ${r.round} | ${r.commitToPublishedSeconds} | ${n(r.debeziumEventsPerSecond)} | ${r.commitToLastEvictedSeconds} | ${n(r.invalidatorKeysPerSecond)} | ${n(r.minCeilingKeysPerSecond)} | ${r.notEvicted} | ${r.baselineReadMs.p99} | ${r.drainReadMs.p99} | ${r.invalidatorOnlyReadMs.p99} |`);
  }
  md.push('');
}
