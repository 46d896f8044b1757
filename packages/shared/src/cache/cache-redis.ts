import Redis, { Cluster, type RedisOptions } from 'ioredis';
import { withCacheScripts, type CacheScriptCommands } from './cache-scripts';
import { installStallAwareCommandTimeout } from './stall-aware-command-timeout';
import { keySlot } from './key-slots';

/**
 * The cache's Redis: one server (`REDIS_URL`) or a Redis Cluster (`REDIS_CLUSTER_NODES`). Both
 * speak the same commands; what differs is that a command (or script) may only name keys of one
 * hash slot on a cluster, which the key map guarantees per account (`{acct:<id>}` hash tags) and
 * the callers respect by grouping keys by slot (key-slots.ts) instead of one multi-key command.
 */
export type CacheRedisClient = Redis | Cluster;
export type CacheRedis = CacheRedisClient & CacheScriptCommands;

export interface CacheRedisOptions {
  /**
   * Upper bound of one command; a slow Redis costs a caller at most this (plus one turn of the
   * event loop: a reply that arrived while this process was stalled is not a timeout, see
   * stall-aware-command-timeout.ts).
   */
  commandTimeoutMs: number;
  /**
   * Merge concurrent commands into pipelines. The settings service wants it (many small
   * independent reads); the invalidator does not, because it builds and paces its own pipelines.
   */
  autoPipelining: boolean;
  /**
   * Commands sent at once even with auto-pipelining on: those the caller already batches itself
   * (auto-pipelining would wrap each in a pipeline of one and send it a tick later).
   */
  autoPipeliningIgnoredCommands?: readonly string[];
  /** Connect only on `connect()`, so start-up can await (and log) the first connection. */
  lazyConnect?: boolean;
  /**
   * Seed nodes (`host:port`) of a Redis Cluster. When given, the client is an ioredis Cluster
   * that discovers the other nodes; the URL then only supplies the scheme (`rediss:` = TLS),
   * user name and password every node is reached with.
   */
  clusterNodes?: readonly string[];
}

/** The client connection settings shared by single-server and cluster-node connections. */
function connectionOptions(opts: CacheRedisOptions): RedisOptions {
  return {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: opts.commandTimeoutMs,
    // A connection attempt to a host that does not answer must not hold a reconnect for ioredis' default 10 s.
    connectTimeout: 1000,
    // disconnect() ends the socket and destroys it only if it has not closed after this long
    // (ioredis' default 2 s). The connections this process drops on purpose are silent ones (a
    // missed heartbeat PING): nothing answers their FIN, so every replacement, and the near-cache
    // turning off for a lost tracking connection, waited 2 s for nothing. A healthy socket closes
    // within a round trip.
    disconnectTimeout: 200,
    retryStrategy: backoff,
    // A subscriber (the settings service's invalidation listener) re-subscribes itself after a
    // reconnect: it must read its new CLIENT ID first, which RESP2 forbids once subscribed.
    autoResubscribe: false,
    reconnectOnError,
  };
}

/**
 * A write refused READONLY means the server this connection reached is a replica now: a failover
 * demoted it (Redis' FAILOVER, a managed endpoint or a Service whose open connections still reach
 * the old pod). Reconnect, so the address resolves to the new primary; kept instead, every
 * eviction and the health probe failed READONLY for good, and the invalidator stayed paused with
 * its liveness green (an unhealthy Redis is not a wedged consumer). The reconnect is a new
 * connection, so the incarnation check runs before the cache is trusted again. The command
 * itself is not re-sent (it fails; its caller retries as for any failure).
 */
export function reconnectOnError(err: Error): boolean {
  return err.message.startsWith('READONLY');
}

const backoff = (times: number): number => Math.min(50 * 2 ** Math.min(times, 6), 2000);

/**
 * The cache client of both services, with the cache's Lua scripts registered. It fails fast:
 * no offline queue, no per-command retries (on one Redis; a Cluster client re-sends a command
 * that met a failover or CLUSTERDOWN after a slot refresh, also after the command timeout
 * failed its promise: settings README non-guarantee 3) and a command timeout, so while Redis is down a
 * command fails at once instead of waiting in memory (the settings service then reads
 * PostgreSQL, the invalidator pauses its consumer and retries its evictions itself).
 * Reconnection continues in the background with exponential backoff capped at 2 s, so a
 * restarted Redis is in use again within about 2 s.
 */
export function createCacheRedis(url: string, opts: CacheRedisOptions): CacheRedis {
  installStallAwareCommandTimeout();
  if (opts.clusterNodes && opts.clusterNodes.length > 0) return withCacheScripts(createCacheCluster(url, opts.clusterNodes, opts));
  return withCacheScripts(
    new Redis(url, {
      ...connectionOptions(opts),
      enableAutoPipelining: opts.autoPipelining,
      autoPipeliningIgnoredCommands: [...(opts.autoPipeliningIgnoredCommands ?? [])],
      lazyConnect: opts.lazyConnect ?? false,
    }),
  );
}

function createCacheCluster(url: string, nodes: readonly string[], opts: CacheRedisOptions): Cluster {
  return new Cluster(
    nodes.map((n) => parseHostPort(n)),
    {
      enableOfflineQueue: false,
      enableAutoPipelining: opts.autoPipelining,
      autoPipeliningIgnoredCommands: [...(opts.autoPipeliningIgnoredCommands ?? [])],
      lazyConnect: opts.lazyConnect ?? false,
      clusterRetryStrategy: backoff,
      // A failover moves slots: the client follows MOVED/ASK and refreshes its slot map itself.
      maxRedirections: 16,
      retryDelayOnFailover: 100,
      slotsRefreshTimeout: 1000,
      // Re-read the slot map every second, not only on a single command's MOVED: a master that
      // was down is dropped from the client's pool, and auto-pipelined commands that meet MOVED
      // are not redirected, so without this a restarted master's slots stay unreachable (seen:
      // MOVED for 20 s and more after the master was back).
      slotsRefreshInterval: 1000,
      redisOptions: { ...connectionOptions(opts), ...credentialsOf(url) },
    },
  );
}

/** Scheme, user and password of a `redis:`/`rediss:` URL, for connections made by host and port. */
export function credentialsOf(url: string): Pick<RedisOptions, 'username' | 'password' | 'tls'> {
  const u = new URL(url);
  return {
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
  };
}

export function parseHostPort(node: string): { host: string; port: number } {
  const m = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(node.trim());
  if (!m) throw new Error(`not host:port: ${node}`);
  return { host: m[1]!, port: Number(m[2]) };
}

export function isRedisCluster(redis: CacheRedisClient): redis is Cluster {
  return redis.isCluster;
}

/**
 * The connection that serves `key`: the one server's, or on a cluster the connection to its
 * slot's master as the client's slot map has it (undefined until the map names a master the
 * client holds a connection to). For a caller that judges one connection by its own round trips
 * (SilentConnectionResets): closing every node's, when one master was silent, dropped healthy
 * connections too.
 */
export function connectionForKey(redis: CacheRedisClient, key: string): Redis | undefined {
  if (!isRedisCluster(redis)) return redis;
  const owner = redis.slots[keySlot(key)]?.[0];
  return owner === undefined ? undefined : redis.nodes('master').find((node) => nodeAddress(node) === owner);
}

/**
 * `host:port` of one connection, as a cluster's slot map names its nodes: the key by which the
 * slot map, logs and per-server metrics refer to a server.
 */
export function nodeAddress(node: Redis): string {
  return `${node.options.host ?? ''}:${node.options.port ?? ''}`;
}

/**
 * The servers holding data: the one server, or every master of a cluster (as the client knows
 * them now). Server-level facts — run ids, CPU — are per server, so their callers ask each.
 */
export function dataServers(redis: CacheRedisClient): Redis[] {
  return isRedisCluster(redis) ? redis.nodes('master') : [redis];
}
