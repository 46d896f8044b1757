import Redis, { Cluster } from 'ioredis';
import { localRedisClusterNodes, localRedisUrl, parseHostPort } from '@settings/shared';

/**
 * Which Redis the integration tests run against: the single local Redis, or — in the jest
 * project `cluster` (jest.config.js), which runs the cache-contract, invalidator and stale-fill
 * race tests a second time — the on-demand three-master Redis Cluster. The project sets
 * SETTINGS_TEST_REDIS=cluster for its files; every other file sees `single`.
 */
export type TestRedisTopology = 'single' | 'cluster';

export function testRedisTopology(): TestRedisTopology {
  return process.env.SETTINGS_TEST_REDIS === 'cluster' ? 'cluster' : 'single';
}

/** Environment for a service under test: REDIS_CLUSTER_NODES on the cluster, nothing otherwise. */
export function testRedisEnv(): Record<string, string> {
  return testRedisTopology() === 'cluster' ? { REDIS_CLUSTER_NODES: localRedisClusterNodes } : {};
}

/**
 * A plain client of the test's Redis for fixtures and assertions (GET/SET of single keys and
 * scripts work on both; the cluster client routes each key to its master).
 */
export function createTestRedis(opts: { maxRetriesPerRequest?: number } = {}): Redis | Cluster {
  if (testRedisTopology() === 'single') return new Redis(localRedisUrl, { maxRetriesPerRequest: opts.maxRetriesPerRequest ?? 1 });
  return new Cluster(
    localRedisClusterNodes.split(',').map((n) => parseHostPort(n)),
    { redisOptions: { maxRetriesPerRequest: opts.maxRetriesPerRequest ?? 1 } },
  );
}
