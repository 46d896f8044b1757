import { CACHE_TARGETS } from '../../scenarios/redis-cluster/cache-target';
import { READ_TARGET_LABELS, READ_TARGETS, type RedisClusterResult } from '../../scenarios/redis-cluster/result';
import { fmtMs as ms, fmtNumber as n, fmtRatio as x } from '../format';
import type { ReportPage } from '../report-page';
import { fmt } from '../svg';

/** Section 7: the same services on the three-master Redis Cluster and on the single Redis, interleaved. */
export function redisClusterSection(rc: RedisClusterResult, { md }: ReportPage): void {
  const { reads, eviction } = rc;
  md.push('## 7. Redis Cluster vs single Redis: cached reads and eviction', '');
  md.push(
    `The same settings and invalidator processes, once on the stack's single Redis and once on its three-master Redis Cluster (\`REDIS_CLUSTER_NODES=${rc.nodes}\`, no replicas, on the same machine${rc.startedByRun ? '; started for this run' : ''}), measured in the same run, interleaved round by round with the order rotated. ` +
      `**Cached reads**: one warm account, h2load saturating each of four settings processes in turn (${reads.load.clients} connections × ${reads.load.streams} streams, ${reads.load.saturateSeconds} s, ${reads.load.rounds} rounds). ` +
      'With the near-cache on (the default) almost every Get is served from process memory, so the cluster matters little; with `NEAR_CACHE_ENABLED=false` every Get goes to Redis: one MGET on the single Redis, and on the cluster a GET of the generation key plus an MGET of the entry, on their own slots\' masters. ' +
      `A counted run of 1,000 requests per target checked one response message of the expected size per request, and no measured request failed (h2load's counts, and every saturated run's calls OK by the process's own gRPC status counter): ${reads.responsesVerified ? 'yes' : '**NO — see results.json**'}.`,
    '',
  );
  md.push('| Target | Saturated req/s | p50 | p99 | Cache hit share | of which near-cache |', '| --- | --- | --- | --- | --- | --- |');
  for (const t of READ_TARGETS) {
    const b = reads.byTarget[t];
    md.push(`| ${READ_TARGET_LABELS[t]} | ${n(b.rps)} | ${ms(b.p50Ms)} | ${ms(b.p99Ms)} | ${fmt(b.hitShare * 100)} % | ${fmt(b.nearCacheHitShare * 100)} % |`);
  }
  md.push(
    '',
    `Cluster ÷ single Redis (median of per-round ratios): near-cache on throughput ${x(reads.ratios.rps)}, p99 ${x(reads.ratios.p99)}; near-cache off throughput ${x(reads.ratios.rpsL1Off)}, p99 ${x(reads.ratios.p99L1Off)}.`,
    '',
  );
  md.push(
    `**Eviction**: one backlog of ${n(eviction.events)} change events (one bulk UPDATE, published by Debezium at ~${n(eviction.debeziumEventsPerSecond)} events/s) drained per round by a fresh invalidator on each target with \`EVICTION_MAX_KEYS_PER_SECOND=0\`, ` +
      "each with a new consumer group positioned just before the backlog, after deleting the previous run's markers on that target. Keys/s come from the invalidator's own `invalidator_keys_applied_total` (first key applied → last). " +
      'On the cluster a round trip\'s markers are grouped by hash slot, so a batch of many accounts becomes about one `evict-to-marker-batch` call per account.',
    '',
    '| Round | Target | Keys/s | Drain s |',
    '| --- | --- | --- | --- |',
  );
  for (const r of eviction.runs) md.push(`| ${r.round} | ${r.target} | ${n(r.keysPerSecond)} | ${r.drainSeconds} |`);
  md.push(
    '',
    `Medians: ${CACHE_TARGETS.map((t) => `${t} ${n(eviction.byTarget[t].keysPerSecond)} keys/s`).join(', ')}; cluster ÷ single (median of per-round ratios) ${x(eviction.keysPerSecondRatio)}.`,
    '',
  );
}
