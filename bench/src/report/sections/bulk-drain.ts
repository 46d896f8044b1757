import type { BulkDrainResult, CpuMicrosPerRow } from '../../scenarios/bulk-drain';
import { fmtNumber as n, fmtRatio as x } from '../format';
import type { ReportPage } from '../report-page';

/** The bulk change end to end: commit → last key evicted, split into Debezium and invalidator. */
export function bulkDrainSection(b: BulkDrainResult, { md }: ReportPage): void {
  const warmUp = b.rounds.some((r) => r.round === 0);
  const measured = b.rounds.filter((r) => r.round > 0 && !(r.cdcNice > 0)).length;
  md.push('## Bulk change: commit → last key evicted', '');
  md.push(
    `One \`UPDATE\` of ${n(b.rows)} account rows, committed while ${n(b.readsPerSecond)} reads/s hit ${n(b.hotAccounts)} other, cached accounts through a real settings service. ` +
      `Default configuration: one invalidator with the adaptive ceiling (hard maximum ${n(b.invalidatorMaxKeysPerSecond)} keys/s). ` +
      'Debezium is done when the topic end offsets have moved by the row count; the invalidator when its `invalidator_keys_applied_total` has. ' +
      'CPU per row (user + system of every thread, from `/proc`): Kafka Connect from the commit to the last event in Kafka, the invalidator from the commit to its last key, PostgreSQL (the UPDATE, then the walsender decoding it) from the UPDATE\'s start to the last event in Kafka; a process waiting for a core costs time, not CPU, so these move less than the rates on a shared machine. ' +
      `Cached-read latency: baseline = the seconds before the commit, drain = commit → last key evicted. ` +
      `${measured} round(s), medians below${warmUp ? ', after a warm-up round (0: Kafka Connect compiles its change-event path as it runs it, so the first bulk change after a worker starts costs it more CPU; reported, not in the medians)' : ''}.`,
    '',
  );
  const m = b.median;
  md.push(
    `**Median: commit → last key evicted ${m.commitToLastEvictedSeconds} s** (Debezium: commit → last event in Kafka ${m.commitToPublishedSeconds} s, ${n(m.debeziumEventsPerSecond)} events/s; invalidator drain ${n(m.invalidatorKeysPerSecond)} keys/s); ` +
      `cached-read p99 ${m.baselineReadP99Ms} ms baseline → ${m.drainReadP99Ms} ms during the drain (${x(m.readP99Ratio)}); ${m.invalidatorOnlyReadP99Ms} ms while only the invalidator worked (last event in Kafka → last key evicted); ` +
      `CPU per row, µs (Kafka Connect / invalidator / PostgreSQL / settings service beyond its reads): ${cpu(m.cpuMicrosPerRow)}.`,
    '',
  );
  const y = b.medianCdcYields;
  if (y) {
    md.push(
      `**The same, with the CDC pipeline yielding the cores** (alternate rounds: PostgreSQL, Kafka, Kafka Connect and the invalidator at autogroup nice ${y.cdcNice}, a CPU weight of 110 against the serving path's 1,024 — what separate nodes or CPU requests give a serving pod in Kubernetes): ` +
        `cached-read p99 ${y.baselineReadP99Ms} → ${y.drainReadP99Ms} ms (${x(y.readP99Ratio)}); commit → last key evicted ${y.commitToLastEvictedSeconds} s (Debezium ${y.commitToPublishedSeconds} s). ` +
        'Linux shares the cores between sessions (autogroups) before threads, and every component here is a session of its own: with equal weights a read that arrives while the bulk change streams waits for a core behind PostgreSQL, Connect and Kafka. The difference between the two medians is that wait, not the cache; what yielding costs is the time the change takes to be invalidated.',
      '',
    );
  }
  md.push('| Round | CDC nice | Commit → published s | Debezium events/s | Commit → last evicted s | Invalidator keys/s | Lowest ceiling keys/s | Not evicted | Read p99 baseline ms | Read p99 drain ms | Read p99 invalidator alone ms | CPU µs/row: Connect / invalidator / PostgreSQL / settings |', '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const r of b.rounds) {
    md.push(`| ${r.round === 0 ? '0 (warm-up)' : r.round} | ${r.cdcNice ?? 0} | ${r.commitToPublishedSeconds} | ${n(r.debeziumEventsPerSecond)} | ${r.commitToLastEvictedSeconds} | ${n(r.invalidatorKeysPerSecond)} | ${n(r.minCeilingKeysPerSecond)} | ${r.notEvicted} | ${r.baselineReadMs.p99} | ${r.drainReadMs.p99} | ${r.invalidatorOnlyReadMs.p99} | ${cpu(r.cpuMicrosPerRow)} |`);
  }
  md.push('');
}

/** Runs from before this column existed have no CPU figures: a dash, not "undefined". */
const cpu = (c: CpuMicrosPerRow | undefined): string => (c ? `${n(c.connect)} / ${n(c.invalidator)} / ${n(c.postgres)} / ${c.service === undefined ? '–' : n(c.service)}` : '–');
