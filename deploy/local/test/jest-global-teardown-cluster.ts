import { existsSync, readFileSync, rmSync } from 'node:fs';
import { stopRedisCluster } from '../src/redis-cluster';
import stackTeardown from './jest-global-teardown';
import { clusterStartedByTestsMarker } from './jest-global-setup-cluster';

/** Stops the Redis Cluster when this run started it (KEEP_STACK=1 keeps it), then the stack's own teardown. */
export default async function globalTeardown(): Promise<void> {
  if (existsSync(clusterStartedByTestsMarker) && process.env.KEEP_STACK !== '1' && readFileSync(clusterStartedByTestsMarker, 'utf8').trim() === String(process.pid)) {
    rmSync(clusterStartedByTestsMarker);
    await stopRedisCluster();
  }
  await stackTeardown();
}
