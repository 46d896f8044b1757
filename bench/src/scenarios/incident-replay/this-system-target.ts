import { cacheKeys, parseCacheValue } from '@settings/shared';
import type { LegacyCounters } from '../../../baselines/legacy-cache';
import { sleep, type BenchContext } from '../../context';
import { client, waitForChannel } from '../../grpc-util';
import { deleteGroups, drainDebezium, groupCaughtUp, positionGroupAtEnd } from '@settings/local-stack';
import { ipcCall, scrape, startInvalidatorProcess, startSettingsProcess, type SettingsProc } from '../../procs';
import { benchRedis, deleteAccountKeys } from '../../redis-util';
import { startBulkJob } from './bulk-job';
import { cachedVersionsOf, type BulkResult, type Target } from './target';

/**
 * This system: the settings service and an invalidator (its own consumer group, positioned at
 * the topic ends), both as processes from their compiled entry points. The bulk UPDATE is a
 * bare SQL statement: the invalidator sees it in the WAL.
 */
export async function startThisSystem(ctx: BenchContext, accountPrefix: string, round: number): Promise<Target> {
  const group = `${accountPrefix}-r${round}-invalidator`;
  // Earlier variants' bulk updates must be through Debezium before this group is positioned.
  await positionGroupAtEnd(group, { drainFirst: true });
  const inv = await startInvalidatorProcess(ctx, `incident-invalidator-r${round}`, group);
  let settings: SettingsProc;
  try {
    settings = await startSettingsProcess(ctx, `incident-settings-r${round}`);
  } catch (err) {
    await inv.stop();
    throw err;
  }
  // A backfill straight to PostgreSQL (no cache code at all): the invalidator sees it in the WAL.
  const job = await startBulkJob(ctx, 'ttl-only', `bench:${ctx.runId}:unused:`);
  const clients = [client(settings.grpcPort), client(settings.grpcPort)];
  await Promise.all(clients.map((c) => waitForChannel(c)));
  const redis = benchRedis();
  return {
    clients,
    async appCounters() {
      const [m, i, j] = await Promise.all([scrape(settings.metricsPort), scrape(inv.httpPort), ipcCall<LegacyCounters>(job, 'stats', {}, 5000)]);
      const lookups = m.get('settings_cache_requests_total') ?? 0;
      const fills = m.get('settings_cache_fills_total') ?? 0;
      const series = (suffix: string, labels = ''): number => m.get(`settings_db_pool_wait_seconds_${suffix}{${labels}pool="write"}`) ?? 0;
      // Per read: GET of the key space generation + GET of the key; one EVALSHA per fill.
      return {
        redis: 2 * lookups + fills + (i.get('invalidator_redis_ops_total') ?? 0),
        pg: (m.get('settings_db_queries_total') ?? 0) + j.pgQueries,
        hits: m.get('settings_cache_requests_total{space="account-settings",result="hit"}') ?? 0,
        lookups,
        // The service's default DB_LOCK_TIMEOUT_MS (250 ms) is a bucket bound.
        writePoolWaits: { count: series('count'), sumSeconds: series('sum'), within: series('bucket', 'le="0.25",'), withinSeconds: 0.25 },
      };
    },
    bulk: (likePattern, displayName, outFile) => ipcCall<BulkResult>(job, 'bulkSave', { likePattern, displayName, outFile }),
    async settle(timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      await drainDebezium(timeoutMs);
      while (!(await groupCaughtUp(group)) && Date.now() < deadline) await sleep(250);
    },
    cachedVersions: (ids) =>
      cachedVersionsOf(
        redis,
        ids,
        (id) => cacheKeys.accountSettings(id).key,
        (b) => {
          const v = parseCacheValue(b);
          return v?.kind === 'entry' ? Number(v.version) : undefined;
        },
      ),
    async stop() {
      clients.forEach((c) => c.close());
      await settings.stop();
      await job.stop();
      await inv.stop();
      await deleteGroups([group]);
      await deleteAccountKeys(redis, accountPrefix);
      redis.disconnect();
    },
  };
}
