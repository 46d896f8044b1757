import { performance } from 'node:perf_hooks';
import { sleep, type BenchContext } from '../../context';
import { scrape, type SettingsProc } from '../../procs';
import { round } from '../../stats';
import { redisTrouble, WATCH_GOALS, type WatchStormResult } from './result';
import { WatchFleet, type StreamSpec } from './watch-fleet';

// Keys read, not queries: concurrent misses share one query (batched-load.ts).
const DB_READS = 'settings_db_keys_read_total{kind="account_settings.read"}';

/**
 * Opens every stream of `specs` at once against `settings` (a replica started for this, so its
 * near-cache is empty) and counts the PostgreSQL reads that caused: one topic per key per replica
 * and fenced fills should make it at most one per distinct key. Returns the fleet still open, so
 * the caller can replace the replica under it and reconnect with its resume tokens.
 */
export async function openStorm(
  ctx: BenchContext,
  settings: SettingsProc,
  specs: readonly StreamSpec[],
  variant: WatchStormResult['variant'],
  distinctKeys: number,
): Promise<{ result: WatchStormResult; fleet: WatchFleet }> {
  const fleet = new WatchFleet(settings.grpcPort, ctx.sizes.watch.streamsPerChannel);
  const before = await scrape(settings.metricsPort);
  const t0 = performance.now();
  fleet.open(specs);
  const { lastReadyAt, timedOut } = await fleet.waitReady(120_000);
  // Re-reads caused by the storm's own fills (Redis pushes them too) land shortly after.
  await sleep(1000);
  const after = await scrape(settings.metricsPort);
  const sumOf = (m: Map<string, number>): number => m.get('settings_db_queries_total') ?? 0;
  const postgresReads = (after.get(DB_READS) ?? 0) - (before.get(DB_READS) ?? 0);
  const failedStreams = fleet.failures();
  const result: WatchStormResult = {
    variant,
    watchers: specs.length,
    distinctKeys,
    postgresReads,
    readsPerKey: round(postgresReads / distinctKeys, 3),
    allQueries: sumOf(after) - sumOf(before),
    secondsToAllReady: round((lastReadyAt - t0) / 1000, 2),
    failedStreams,
    timedOut,
    redis: redisTrouble(before, after),
    pass: timedOut === 0 && Object.keys(failedStreams).length === 0 && postgresReads <= distinctKeys * WATCH_GOALS.readsPerKey,
  };
  ctx.log(
    `watch storm (${variant}): ${specs.length} streams over ${distinctKeys} keys → ${postgresReads} PostgreSQL reads (${result.readsPerKey} per key), all ready in ${result.secondsToAllReady} s; Redis lookups failed ${result.redis.fallbackReads}, shed ${result.redis.loadShed}; failed ${JSON.stringify(failedStreams)}, timed out ${timedOut}`,
  );
  return { result, fleet };
}
