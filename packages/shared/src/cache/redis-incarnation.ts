import type { Redis } from 'ioredis';
import { dataServers, isRedisCluster, nodeAddress, type CacheRedisClient } from './cache-redis';
import { generationKey, KEY_SPACES, redisIncarnationKey, redisReplicationIdKey, type KeySpace } from './key-map';
import { newGeneration } from './generation';
import { ConfigError } from '../config/env-config';

export interface IncarnationCheck {
  /**
   * The server's `run_id` (changes on every restart, and differs on a promoted replica); on a
   * Redis Cluster the sorted run ids of every master, so a restart or failover of any one counts.
   * Compared together with the replication id (currentIdentity).
   */
  runId: string;
  /** True when the data came from another server process: every generation was renewed. */
  renewed: boolean;
}

/**
 * Detects a Redis that is not the one the cache was built on, and makes its key space cold.
 *
 * A Redis that restarts from a snapshot, or a replica promoted by a failover, may hold entries
 * whose eviction markers were lost (written after the snapshot, or not yet replicated): an old
 * entry would be served for hours. Every Redis process has its own `run_id`; we remember the
 * one the generations were created on. When the server we talk to has another, we renew every
 * space's generation, so every old entry and every in-flight fill is a miss. The price is a cold
 * cache after a restart or failover — misses refilled from PostgreSQL — never a stale one.
 *
 * Order matters and makes this safe without a transaction: generations are renewed *before* the
 * run id (and replication id, currentIdentity) is recorded, so a second process can only see
 * the new run id after the renewal;
 * two processes racing both renew (one extra cold start), neither trusts old data.
 * Fixed keys only (one per space plus the run id): no KEYS/SCAN.
 *
 * Redis Cluster: a master that restarts or is replaced by a replica can bring back entries
 * whose markers it lost, like a single server, so the run id is the set of every master's; a
 * new master (a failover, or a node added) renews all generations — the whole cache goes cold,
 * the price of not knowing which entries that master lost.
 */
export async function checkRedisIncarnation(redis: CacheRedisClient): Promise<IncarnationCheck> {
  const { runId, replId } = await currentIdentity(redis);
  const [recorded, recordedReplId] = await Promise.all([redis.get(redisIncarnationKey()), redis.get(redisReplicationIdKey())]);
  if (recorded === runId && recordedReplId === replId) return { runId, renewed: false };
  // Same run id, no replication id recorded yet (generations created by a release that did not
  // record it): recorded now, without making the cache cold on an upgrade.
  if (recorded === runId && recordedReplId === null) {
    await redis.set(redisReplicationIdKey(), replId);
    return { runId, renewed: false };
  }
  await renewAllGenerations(redis);
  await redis.set(redisReplicationIdKey(), replId);
  await redis.set(redisIncarnationKey(), runId);
  return { runId, renewed: true };
}

/**
 * Gives every key space a fresh generation: the whole cache becomes misses at once. Also the
 * operator's tool after restoring PostgreSQL or Redis from a backup (docs/operations.md).
 */
export async function renewAllGenerations(redis: CacheRedisClient): Promise<KeySpace[]> {
  return renewGenerations(redis, Object.keys(KEY_SPACES) as KeySpace[]);
}

/** Gives the named key spaces fresh generations: only their entries become misses. */
export async function renewGenerations(redis: CacheRedisClient, spaces: readonly KeySpace[]): Promise<KeySpace[]> {
  await Promise.all(spaces.map((space) => redis.set(generationKey(space), newGeneration())));
  return [...spaces];
}

/**
 * The key spaces an operator named, checked (every space when none is named). An unknown name
 * is a ConfigError: renewing some other set than the one asked for — all of them, say — would
 * turn the whole cache cold when one space was meant.
 */
export function keySpacesNamed(names: readonly string[]): KeySpace[] {
  const all = Object.keys(KEY_SPACES) as KeySpace[];
  if (names.length === 0) return all;
  const unknown = names.filter((n) => !(all as string[]).includes(n));
  if (unknown.length > 0) throw new ConfigError([`unknown key space ${unknown.join(', ')} (key spaces: ${all.join(', ')})`]);
  return [...new Set(names as KeySpace[])];
}

/**
 * The run id of the server and its replication id (or, on a cluster, the sorted ones of its
 * masters). The run id names the process, not the data: a primary demoted by a failover and
 * promoted again before it synced from the new one (that one lost meanwhile) keeps its run id and
 * serves the data it had, without the markers written to the other; every promotion gives it a
 * new replication id (`REPLICAOF NO ONE` shifts it), so the two together tell it apart.
 */
async function currentIdentity(redis: CacheRedisClient): Promise<{ runId: string; replId: string }> {
  const servers = dataServers(redis);
  if (servers.length === 0) throw new Error('no Redis Cluster master known yet');
  if (isRedisCluster(redis)) {
    // A master the slot map still names but the client has no connection to (a node dropped and
    // not yet back, a failover the next slot refresh will show): comparing the others' run ids
    // would renew every generation now (a set without it) and again when it is back. The check
    // fails instead; the gate stays closed and checks again once the topology is whole.
    const connected = new Set(servers.map((s) => nodeAddress(s)));
    const named = new Set(redis.slots.map((owners) => owners?.[0]).filter((m): m is string => m !== undefined));
    const missing = [...named].filter((m) => !connected.has(m));
    if (missing.length > 0) throw new Error(`no connection yet to Redis Cluster master ${missing.join(', ')} of the slot map`);
  }
  const ids = await Promise.all(servers.map(async (s) => ({ runId: await serverRunId(s), replId: await serverReplicationId(s) })));
  ids.sort((a, b) => (a.runId < b.runId ? -1 : a.runId > b.runId ? 1 : 0));
  return { runId: ids.map((i) => i.runId).join(','), replId: ids.map((i) => i.replId).join(',') };
}

/** The `master_replid` of the one server `connection` is connected to (INFO replication). */
async function serverReplicationId(connection: Pick<Redis, 'info'>): Promise<string> {
  const id = /^master_replid:([0-9a-f]+)/m.exec(await connection.info('replication'))?.[1];
  if (!id) throw new Error('INFO replication did not report a master_replid');
  return id;
}

/** The `run_id` of the one server `connection` is connected to (INFO server). */
export async function serverRunId(connection: Pick<Redis, 'info'>): Promise<string> {
  const id = /^run_id:([0-9a-f]+)/m.exec(await connection.info('server'))?.[1];
  if (!id) throw new Error('INFO server did not report a run_id');
  return id;
}
