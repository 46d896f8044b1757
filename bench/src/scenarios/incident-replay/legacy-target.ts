import { localDatabaseUrl } from '@settings/shared';
import { AccountSettings } from '@settings/api';
import type { LegacyCounters, LegacyStrategy } from '../../../baselines/legacy-cache';
import { benchRedisUrl, type BenchContext } from '../../context';
import { client, waitForChannel } from '../../grpc-util';
import { benchScript, ipcCall, spawnNode, waitIpcReady } from '../../procs';
import { benchRedis, deleteByPattern, globEscape } from '../../redis-util';
import { startBulkJob } from './bulk-job';
import { cachedVersionsOf, type BulkResult, type Target } from './target';

/**
 * A baseline (baselines/legacy-server.ts): a read-through cache with a TTL and the given
 * app-side invalidation, under its own key prefix in the benchmark's Redis db.
 */
export async function startLegacy(ctx: BenchContext, strategy: LegacyStrategy, keyPrefix: string, ttlSeconds: number): Promise<Target> {
  const svc = spawnNode(
    ctx,
    `legacy-${strategy}`,
    benchScript('baselines/legacy-server.js'),
    { LEGACY_STRATEGY: strategy, LEGACY_KEY_PREFIX: keyPrefix, LEGACY_REDIS_URL: benchRedisUrl, LEGACY_TTL_SECONDS: String(ttlSeconds), DATABASE_URL: localDatabaseUrl },
  );
  const port = await waitIpcReady(svc);
  const job = await startBulkJob(ctx, strategy, keyPrefix);
  const clients = [client(port), client(port)];
  await Promise.all(clients.map((c) => waitForChannel(c)));
  const redis = benchRedis();
  return {
    clients,
    async appCounters() {
      const [c, j] = await Promise.all([ipcCall<LegacyCounters>(svc, 'stats', {}, 5000), ipcCall<LegacyCounters>(job, 'stats', {}, 5000)]);
      return { redis: c.redisCommands + j.redisCommands, pg: c.pgQueries + j.pgQueries, hits: c.hits, lookups: c.reads };
    },
    bulk: (likePattern, displayName, outFile) => ipcCall<BulkResult>(job, 'bulkSave', { likePattern, displayName, outFile }),
    settle: async () => undefined,
    cachedVersions: (ids) => cachedVersionsOf(redis, ids, (id) => `${keyPrefix}acct:${id}`, (b) => Number(AccountSettings.decode(b).etag)),
    async stop() {
      clients.forEach((c) => c.close());
      await svc.stop();
      await job.stop();
      await deleteByPattern(redis, `${globEscape(keyPrefix)}*`);
      redis.disconnect();
    },
  };
}
