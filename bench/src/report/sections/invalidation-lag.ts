import type { BenchSizes } from '../../context';
import type { LagResult } from '../../scenarios/invalidation-lag';
import { fmtJudged, fmtMs as ms, fmtNumber as n } from '../format';
import { lagP99Target } from '../targets';
import type { LatencySummary } from '../../stats';
import type { ReportPage } from '../report-page';
import { barChart, PALETTE } from '../svg';

/** Section 2: commit → key evicted through Debezium, Kafka and the invalidator, split by hop. */
export function invalidationLagSection(lag: LagResult, sizes: BenchSizes['lag'], { md, charts, img }: ReportPage): void {
  md.push('## 2. Invalidation lag: commit → key evicted', '');
  md.push(
    `Steady UPDATEs of account settings at each rate (open loop, ${sizes.accounts} accounts round-robin), through Debezium → Kafka → a real invalidator process (own consumer group, positioned at the topic end, default configuration: adaptive eviction ceiling up to ${n(lag.invalidatorMaxKeysPerSecond)} keys/s). ` +
      `commit = \`source.ts_ms\` (PostgreSQL commit time); Kafka = the record timestamp (Connect's produce time); evicted = when the harness first saw the marker (MGET every ${lag.pollIntervalMs} ms, so up to ~${lag.pollIntervalMs} ms of resolution). Medians over ${sizes.rounds} rounds; every round runs ${sizes.rates.map((r) => `${n(r)}`).join(' then ')} writes/s, always in this order (not alternated between rounds)` +
      (lag.warmupSeconds > 0 ? `, after a ${lag.warmupSeconds}-second warm-up at the top rate (round 0 below, not in the medians: a fresh invalidator process, and Kafka Connect on a freshly started stack, compile their change-event paths while they first run them).` : '.'),
    '',
  );
  charts['invalidation-lag.svg'] = barChart({
    title: 'Invalidation lag, commit → evicted',
    subtitle: 'split: commit → Kafka record, Kafka record → marker in Redis',
    unit: 'ms',
    legend: [
      { label: 'commit → Kafka', color: PALETTE[4]! },
      { label: 'Kafka → evicted', color: PALETTE[1]! },
      { label: 'end to end', color: PALETTE[0]! },
    ],
    groups: lag.byRate.flatMap((b) =>
      (['p50', 'p95', 'p99'] as const).map((p) => ({
        label: `${n(b.writesPerSecond)} writes/s, ${p}`,
        bars: [
          { label: 'commit → Kafka', value: b.commitToKafka[p], color: PALETTE[4]! },
          { label: 'Kafka → evicted', value: b.kafkaToEvicted[p], color: PALETTE[1]! },
          { label: 'end to end', value: b.commitToEvicted[p], color: PALETTE[0]! },
        ],
      })),
    ),
  });
  md.push(img('invalidation-lag.svg', 'Invalidation lag'), '');
  md.push(
    '| Writes/s (achieved) | commit → Kafka p50 / p95 / p99 | Kafka → evicted p50 / p95 / p99 | commit → evicted p50 / p95 / p99 | commit → evicted p99 against its target |',
    '| --- | --- | --- | --- | --- |',
  );
  for (const b of lag.byRate) {
    const f = (s: { p50: number; p95: number; p99: number }): string => `${ms(s.p50)} / ${ms(s.p95)} / ${ms(s.p99)}`;
    const t = lagP99Target(b.writesPerSecond);
    md.push(`| ${n(b.writesPerSecond)} (${n(b.achievedWritesPerSecond)}) | ${f(b.commitToKafka)} | ${f(b.kafkaToEvicted)} | ${f(b.commitToEvicted)} | ${t ? fmtJudged(b.commitToEvicted.p99, t) : 'no target'} |`);
  }
  md.push('', '| Round | Writes/s (achieved) | commit → Kafka p50 / p99 / max | Kafka → evicted p50 / p99 / max | commit → evicted p50 / p99 / max |', '| --- | --- | --- | --- | --- |');
  for (const r of lag.runs) {
    const f = (s: LatencySummary): string => `${ms(s.p50)} / ${ms(s.p99)} / ${ms(s.max)}`;
    md.push(`| ${r.round === 0 ? '0 (warm-up)' : r.round} | ${n(r.targetWritesPerSecond)} (${n(r.achievedWritesPerSecond)}) | ${f(r.commitToKafkaMs)} | ${f(r.kafkaToEvictedMs)} | ${f(r.commitToEvictedMs)} |`);
  }
  const missing = lag.runs.reduce((a, b) => a + b.notEvicted, 0);
  md.push('', `Writes never seen evicted: ${missing} of ${lag.runs.reduce((a, b) => a + b.writes, 0)}.`, '');
}
