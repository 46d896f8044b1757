import { commonEnv, createCacheRedis, keySpacesNamed, loadEnv, renewGenerations, runMain } from '@settings/shared';

/**
 * Operator command, shipped with the invalidator (the one component that removes things from
 * the cache): give the named cache key spaces (every one when none is named) a fresh
 * generation, so nothing of theirs cached before now (and no fill in flight) is ever served
 * again. The cache becomes cold, never stale. An unknown space name exits 2 and renews nothing.
 *
 * When: after restoring PostgreSQL (point-in-time recovery, a dump, a promoted standby that lost
 * commits), after a CDC gap (a lost replication slot, reset connector offsets), or whenever the
 * cache may hold something the change stream will never evict. After a restore or a gap, only
 * once the connector streams again (task RUNNING, replication slot active, as
 * deploy/k8s/ops/heal-after-failover.sh waits for): renewed earlier, an entry filled after the
 * bump survives it, and a change committed before the connector streams is never published, so
 * nothing evicts that entry. A Redis restart or failover does not need it: the services notice a
 * new Redis server by itself (redis-incarnation.ts).
 * Cost: one miss per hot key, absorbed by single-flight and the fallback limiter.
 *
 *   npm run cache:renew-generations                         # local stack, every space
 *   npm run cache:renew-generations -- account-settings     # one space
 *   kubectl exec deploy/settings-invalidator -- node services/invalidator/dist/src/admin/renew-cache-generations.js
 * Fixed keys only (one per key space): no KEYS, SCAN or FLUSH.
 */
runMain({
  name: 'renew-cache-generations',
  loadConfig: () => ({
    ...loadEnv({ REDIS_URL: commonEnv.REDIS_URL, REDIS_CLUSTER_NODES: commonEnv.REDIS_CLUSTER_NODES, LOG_LEVEL: commonEnv.LOG_LEVEL }),
    spaces: keySpacesNamed(process.argv.slice(2)),
  }),
  async start(config, log) {
    const redis = createCacheRedis(config.REDIS_URL, { commandTimeoutMs: 5000, autoPipelining: false, lazyConnect: true, clusterNodes: config.REDIS_CLUSTER_NODES });
    try {
      await redis.connect();
      const spaces = await renewGenerations(redis, config.spaces);
      log.info({ spaces }, `renewed the generation of ${spaces.length} key spaces: every entry cached in them is now a miss`);
    } finally {
      redis.disconnect();
    }
  },
});
