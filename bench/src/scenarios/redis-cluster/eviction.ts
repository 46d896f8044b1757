import { commitGroupOffsets, deleteGroups, drainDebezium, topicEnds } from '@settings/local-stack';
import type { BenchContext } from '../../context';
import { createAccounts, deleteAccounts, escapeLike, sql } from '../../db';
import { measureInvalidatorDrain } from '../../invalidator-drain';
import { median, ratio } from '../../stats';
import { cacheTargetEnv, CACHE_TARGETS, type CacheTarget, type CacheTargetCleaner } from './cache-target';
import type { ClusterEvictionResult, ClusterEvictionRun } from './result';

/**
 * One backlog of change events (one bulk UPDATE of `events` accounts, drained through Debezium
 * into Kafka before anything is measured), then per round one invalidator on the single Redis and
 * one on the cluster, each with the rate ceiling off and a fresh consumer group positioned just
 * before the backlog, one after the other in an order that rotates each round. The previous
 * run's markers are deleted on the target first, so every run writes the same markers.
 */
export async function measureClusterEviction(ctx: BenchContext, cleaner: CacheTargetCleaner): Promise<ClusterEvictionResult> {
  const { rounds, events } = ctx.sizes.cluster;
  const prefix = `${ctx.prefix}-cev`;
  const groups: string[] = [];
  const runs: ClusterEvictionRun[] = [];
  let debeziumEventsPerSecond = Number.NaN;
  try {
    ctx.log(`redis-cluster eviction: creating ${events} accounts`);
    await createAccounts(prefix, events);
    await drainDebezium();
    const before = await topicEnds();
    const t0 = Date.now();
    await sql(`UPDATE account_settings SET display_name = display_name || '.' WHERE account_id LIKE $1`, [`${escapeLike(prefix)}-%`]);
    await drainDebezium();
    debeziumEventsPerSecond = Math.round(events / ((Date.now() - t0) / 1000));
    ctx.log(`redis-cluster eviction: ${events} change events in Kafka (Debezium ~${debeziumEventsPerSecond} events/s)`);
    for (let round = 1; round <= rounds; round++) {
      for (const target of CACHE_TARGETS.map((_, i) => CACHE_TARGETS[(i + round - 1) % CACHE_TARGETS.length]!)) {
        await cleaner.deleteAccountKeys(target, prefix);
        const group = `${prefix}-inv-${target}-${round}`;
        groups.push(group);
        await commitGroupOffsets(group, before);
        const rate = await measureInvalidatorDrain(ctx, `redis-cluster-invalidator-${target}-${round}`, group, events, { ...cacheTargetEnv(target), EVICTION_MAX_KEYS_PER_SECOND: '0' });
        runs.push({ round, target, ...rate });
        ctx.log(`redis-cluster eviction: round ${round} ${target}: ${rate.keysPerSecond} keys/s (${rate.drainSeconds} s)`);
      }
    }
  } finally {
    await deleteGroups(groups);
    await deleteAccounts(prefix);
    for (const t of CACHE_TARGETS) await cleaner.deleteAccountKeys(t, prefix);
  }
  const of = (target: CacheTarget, round: number): number => runs.find((r) => r.target === target && r.round === round)?.keysPerSecond ?? Number.NaN;
  const byTarget = Object.fromEntries(
    CACHE_TARGETS.map((t) => {
      const rs = runs.filter((r) => r.target === t);
      return [t, { keysPerSecond: median(rs.map((r) => r.keysPerSecond)), drainSeconds: median(rs.map((r) => r.drainSeconds)) }];
    }),
  ) as ClusterEvictionResult['byTarget'];
  return {
    events,
    debeziumEventsPerSecond,
    runs,
    byTarget,
    keysPerSecondRatio: median([...new Set(runs.map((r) => r.round))].map((round) => ratio(of('cluster', round), of('single', round)))),
  };
}
