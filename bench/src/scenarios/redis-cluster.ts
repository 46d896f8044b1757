import { redisClusterReady, redisClusterRunning, startRedisCluster, stopRedisCluster } from '@settings/local-stack';
import { localRedisClusterNodes } from '@settings/shared';
import type { BenchContext } from '../context';
import { CacheTargetCleaner } from './redis-cluster/cache-target';
import { measureClusterReads } from './redis-cluster/cached-reads';
import { measureClusterEviction } from './redis-cluster/eviction';
import type { RedisClusterResult } from './redis-cluster/result';

export type { RedisClusterResult } from './redis-cluster/result';

/**
 * Redis Cluster vs the single Redis (issue 12): cached-read throughput and eviction throughput of
 * the same services, configured only by REDIS_CLUSTER_NODES, measured in the same run with the
 * two targets interleaved round by round. The local stack's three-master cluster is on demand:
 * started here when it is not running, and then stopped again at the end.
 */
export async function runRedisCluster(ctx: BenchContext): Promise<RedisClusterResult> {
  const startedByRun = !redisClusterRunning();
  if (startedByRun || !redisClusterReady()) await startRedisCluster((m) => ctx.log(`redis-cluster: ${m}`));
  const cleaner = new CacheTargetCleaner();
  try {
    const reads = await measureClusterReads(ctx, cleaner);
    const eviction = await measureClusterEviction(ctx, cleaner);
    return { nodes: localRedisClusterNodes, startedByRun, reads, eviction };
  } finally {
    cleaner.disconnect();
    if (startedByRun) await stopRedisCluster();
  }
}
