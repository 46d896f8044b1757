import { localDatabaseUrl } from '@settings/shared';
import type { LegacyStrategy } from '../../../baselines/legacy-cache';
import { benchRedisUrl, type BenchContext } from '../../context';
import type { ChildService } from '@settings/local-stack';
import { benchScript, spawnNode, waitIpcReady } from '../../procs';

/**
 * The process that runs a target's bulk UPDATE (baselines/bulk-job.ts), with the strategy's
 * app-side invalidation after it; this system's backfill uses 'ttl-only', i.e. none at all.
 */
export async function startBulkJob(ctx: BenchContext, strategy: LegacyStrategy, keyPrefix: string): Promise<ChildService> {
  const job = spawnNode(
    ctx,
    `bulk-job-${strategy}`,
    benchScript('baselines/bulk-job.js'),
    { BULK_STRATEGY: strategy, BULK_KEY_PREFIX: keyPrefix, BULK_REDIS_URL: benchRedisUrl, DATABASE_URL: localDatabaseUrl },
  );
  await waitIpcReady(job);
  return job;
}
