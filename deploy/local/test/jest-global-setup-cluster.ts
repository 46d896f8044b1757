import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { redisClusterReady, redisClusterRunning, startRedisCluster } from '../src/redis-cluster';
import { stateDir } from '../src/state-dir';
import stackSetup from './jest-global-setup';

/** Marker: this test run started the Redis Cluster (holds the pid, as the stack's marker). */
export const clusterStartedByTestsMarker = join(stateDir, 'redis-cluster-started-by-tests');

/**
 * The jest project `cluster`: the whole local stack (as every integration test), plus the
 * on-demand three-master Redis Cluster its tests run the cache against.
 */
export default async function globalSetup(): Promise<void> {
  await stackSetup();
  if (redisClusterRunning() && redisClusterReady()) return;
  if (existsSync(clusterStartedByTestsMarker)) rmSync(clusterStartedByTestsMarker);
  const t0 = Date.now();
  await startRedisCluster((m) => process.stderr.write(`[stack] redis-cluster: ${m}\n`));
  process.stderr.write(`[stack] redis-cluster up in ${((Date.now() - t0) / 1000).toFixed(1)}s for this test run\n`);
  writeFileSync(clusterStartedByTestsMarker, String(process.pid));
}
