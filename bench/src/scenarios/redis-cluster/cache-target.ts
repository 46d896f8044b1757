import { Cluster, type Redis } from 'ioredis';
import { localRedisClusterNodes, parseHostPort } from '@settings/shared';
import { benchRedis, deleteByPattern, globEscape } from '../../redis-util';

/** Where a service under test keeps its cache: the stack's single Redis or the three-master cluster. */
export type CacheTarget = 'single' | 'cluster';
export const CACHE_TARGETS: readonly CacheTarget[] = ['single', 'cluster'];

/**
 * Extra environment of a settings or invalidator process on `target`. The single Redis is the
 * processes' default (REDIS_URL, the benchmark's db); on the cluster REDIS_URL only supplies the
 * scheme and credentials, and the cluster has db 0 only, shared with the cluster tests (this run's
 * keys carry its own prefix, which is all that is ever deleted).
 */
export function cacheTargetEnv(target: CacheTarget): Record<string, string> {
  return target === 'cluster' ? { REDIS_CLUSTER_NODES: localRedisClusterNodes } : {};
}

/** The benchmark's own clients of both targets, to delete this run's keys between and after rounds. */
export class CacheTargetCleaner {
  private readonly single = benchRedis();
  private readonly cluster = new Cluster(localRedisClusterNodes.split(',').map(parseHostPort), { redisOptions: { maxRetriesPerRequest: 40 } });

  constructor() {
    this.cluster.on('error', () => undefined);
  }

  /**
   * Deletes every cache key of accounts `<prefix>-*` (entries, markers, fill leases) on `target`:
   * SCAN is per server, so on the cluster it runs on every master.
   */
  async deleteAccountKeys(target: CacheTarget, prefix: string): Promise<number> {
    const acct = globEscape(`{acct:${prefix}-`);
    const patterns = [`v1:${acct}*`, `v1:lease:${acct}*`];
    let n = 0;
    if (target === 'single') for (const pattern of patterns) n += await deleteByPattern(this.single, pattern);
    else for (const master of await this.clusterMasters()) for (const pattern of patterns) n += await deleteOneByOne(master, pattern);
    return n;
  }

  disconnect(): void {
    this.single.disconnect();
    this.cluster.disconnect();
  }

  /** The masters as the client knows them once it loaded the slot map (empty before). */
  private async clusterMasters(): Promise<Redis[]> {
    if (this.cluster.status !== 'ready') await new Promise<void>((resolve, reject) => {
      this.cluster.once('ready', resolve);
      setTimeout(() => reject(new Error(`Redis Cluster ${localRedisClusterNodes}: not ready in 10 s`)), 10_000).unref();
    });
    return this.cluster.nodes('master');
  }
}

/**
 * SCAN + UNLINK on one cluster master. Keys of different accounts are in different slots, and a
 * cluster node refuses a multi-key command across slots (CROSSSLOT) even when it serves them
 * all, so each key is its own UNLINK (pipelined per SCAN page).
 */
async function deleteOneByOne(master: Redis, pattern: string): Promise<number> {
  let cursor = '0';
  let n = 0;
  do {
    const [next, keys] = await master.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    if (keys.length === 0) continue;
    const replies = (await keys.reduce((p, k) => p.unlink(k), master.pipeline()).exec()) ?? [];
    for (const [err, deleted] of replies) {
      if (err) throw err;
      n += Number(deleted);
    }
  } while (cursor !== '0');
  return n;
}
