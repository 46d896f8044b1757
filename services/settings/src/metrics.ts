import { CounterTally, HistogramTally, zeroedCounter } from '@settings/shared';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { DB_POOL_NAMES, type DbPoolName, type PoolOccupancy } from './db/pool-metrics';

/** settings_grpc_request_duration_seconds' buckets (seconds). */
export const GRPC_DURATION_BUCKETS: readonly number[] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/**
 * The service's Prometheus metrics. Names are part of the operations contract (dashboards and
 * alerts use them); each server instance has its own registry so in-process tests do not mix.
 */
export function createSettingsMetrics(registry = new Registry()) {
  collectDefaultMetrics({ register: registry, prefix: 'settings_process_' });
  const r = { registers: [registry] };
  // Read at scrape time: the near-cache registers itself here when it exists (app.ts).
  const nearCacheSize = { read: (): { entries: number; bytes: number } => ({ entries: 0, bytes: 0 }) };
  const nearCacheEntries: Gauge = new Gauge({
    name: 'settings_near_cache_entries',
    help: 'Entries in the near-cache',
    collect: () => nearCacheEntries.set(nearCacheSize.read().entries),
    ...r,
  });
  const nearCacheBytes: Gauge = new Gauge({
    name: 'settings_near_cache_bytes',
    help: 'Approximate bytes held by the near-cache (payloads, keys, per-entry overhead)',
    collect: () => nearCacheBytes.set(nearCacheSize.read().bytes),
    ...r,
  });
  // Read at scrape time: app.ts registers each PostgreSQL pool here once it exists.
  const dbPools = new Map<DbPoolName, () => PoolOccupancy>();
  const dbPoolConnections: Gauge<'pool' | 'state'> = new Gauge({
    name: 'settings_db_pool_connections',
    help: 'PostgreSQL connections of each pool (read, write) by state: in_use (lent to a query or transaction), idle, opening',
    labelNames: ['pool', 'state'] as const,
    collect: () => {
      for (const [pool, read] of dbPools) {
        const o = read();
        dbPoolConnections.set({ pool, state: 'in_use' }, o.inUse);
        dbPoolConnections.set({ pool, state: 'idle' }, o.idle);
        dbPoolConnections.set({ pool, state: 'opening' }, o.opening);
      }
    },
    ...r,
  });
  const dbPoolWaiting: Gauge<'pool'> = new Gauge({
    name: 'settings_db_pool_waiting',
    help: 'Queries and transactions waiting for a connection of each pool (read, write)',
    labelNames: ['pool'] as const,
    collect: () => {
      for (const [pool, read] of dbPools) dbPoolWaiting.set({ pool }, read().waiting);
    },
    ...r,
  });
  // The counters every cached read increments are counted in tallies (CounterTally: plain
  // numbers on the hot path) and handed to prom-client when a scrape or get() collects them.
  const grpcRequestTally = new CounterTally<'method' | 'code'>(['method', 'code']);
  const cacheRequestTally = new CounterTally<'space' | 'result'>(['space', 'result']);
  const nearCacheRequestTally = new CounterTally<'space' | 'result'>(['space', 'result']);
  return {
    nearCacheSize,
    registry,
    /** Occupancy of each PostgreSQL pool, read at scrape time (settings_db_pool_connections, settings_db_pool_waiting). */
    dbPools,
    dbPoolWait: new Histogram({
      name: 'settings_db_pool_wait_seconds',
      help: 'Wait for a connection of each pool (read, write), from the request to the connection or to the acquire timeout',
      labelNames: ['pool'] as const,
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      ...r,
    }),
    /** settings_grpc_requests_total by (method, code), cheap per call; inc on grpcRequests works too. */
    grpcRequestTally,
    /** settings_cache_requests_total by (space, result). */
    cacheRequestTally,
    /** settings_near_cache_requests_total by (space, result). */
    nearCacheRequestTally,
    grpcRequests: new Counter({
      name: 'settings_grpc_requests_total',
      help: 'gRPC calls by method and status code',
      labelNames: ['method', 'code'] as const,
      collect() {
        grpcRequestTally.flushInto(this);
      },
      ...r,
    }),
    /** settings_grpc_request_duration_seconds by method; a HistogramTally: observed on every call. */
    grpcDuration: new HistogramTally({
      name: 'settings_grpc_request_duration_seconds',
      help: 'gRPC call latency by method',
      labelName: 'method',
      buckets: GRPC_DURATION_BUCKETS,
      ...r,
    }),
    cacheRequests: new Counter({
      name: 'settings_cache_requests_total',
      help: 'Cache lookups: hit, miss (absent or other generation), stale_token (entry older than the caller token), marker (evicted)',
      labelNames: ['space', 'result'] as const,
      collect() {
        cacheRequestTally.flushInto(this);
      },
      ...r,
    }),
    cacheFills: new Counter({
      name: 'settings_cache_fills_total',
      help: 'Fill attempts after a database read: written, fenced (a marker or newer entry won), skipped_old (read too long ago)',
      labelNames: ['space', 'result'] as const,
      ...r,
    }),
    notFoundHits: new Counter({
      name: 'settings_cache_not_found_hits_total',
      help: 'Reads answered NOT_FOUND from a cached absence (near-cache or Redis) instead of a PostgreSQL read',
      labelNames: ['space'] as const,
      ...r,
    }),
    coalesced: new Counter({ name: 'settings_cache_coalesced_total', help: 'Reads that joined another request\'s in-flight database load', ...r }),
    dbQueries: new Counter({ name: 'settings_db_queries_total', help: 'Database queries by kind', labelNames: ['kind'] as const, ...r }),
    dbKeysRead: new Counter({
      name: 'settings_db_keys_read_total',
      help: 'Resource keys read from the database by kind (one query reads the keys of every cache miss that arrived together)',
      labelNames: ['kind'] as const,
      ...r,
    }),
    fallback: new Counter({ name: 'settings_cache_fallback_total', help: 'Reads served from PostgreSQL because Redis failed or the breaker was open', ...r }),
    loadShed: new Counter({ name: 'settings_load_shed_total', help: 'Reads rejected because the database fallback was at its concurrency limit', ...r }),
    rowLockTimeouts: new Counter({
      name: 'settings_row_lock_timeouts_total',
      help: "Saves answered ABORTED ROW_LOCKED because another transaction held the row past DB_LOCK_TIMEOUT_MS, by whose clock ended the wait first: postgres (its lock_timeout, counted from when the statement started waiting) or service_clock (counted from when the save asked for a connection; the rollback follows the answer)",
      labelNames: ['noticed_by'] as const,
      ...r,
    }),
    dbConnectionsCut: zeroedCounter(
      new Counter({
        name: 'settings_db_connections_cut_total',
        help: "PostgreSQL connections closed by this service because PostgreSQL had not answered by the call's deadline plus DB_ANSWER_GRACE_MS (a partition, a frozen server, a host gone in a failover), by pool",
        labelNames: ['pool'] as const,
        ...r,
      }),
      'pool',
      DB_POOL_NAMES,
    ),
    writesShed: new Counter({
      name: 'settings_writes_shed_total',
      help: 'Saves refused at once: DB_WRITE_POOL_MAX + DB_WRITE_QUEUE_MAX saves already held or waited for a write connection (queue_full), or those ahead would have kept it waiting past its deadline (would_miss_deadline)',
      labelNames: ['reason'] as const,
      ...r,
    }),
    deliberateReads: new Counter({
      name: 'settings_deliberate_reads_total',
      help: 'Reads sent to PostgreSQL on purpose (fully_consistent, a token newer than the cache) by admission: admitted, waited (for the caller\'s fair share), shed (RESOURCE_EXHAUSTED over the share), overloaded (UNAVAILABLE under the share: every permit in use), rate_limited (RESOURCE_EXHAUSTED over the caller\'s rate)',
      labelNames: ['result'] as const,
      ...r,
    }),
    circuitOpen: new Gauge({ name: 'settings_redis_circuit_open', help: '1 while the Redis circuit breaker is open or half-open', ...r }),
    redisSilentResets: new Counter({ name: 'settings_redis_silent_connection_resets_total', help: 'Redis data connections replaced because every PING on them timed out for 3 s with nothing closed (a dropped flow)', ...r }),
    generationsRenewed: new Counter({
      name: 'settings_cache_generations_renewed_total',
      help: 'Times this replica found a different Redis server (restart, failover, restore) and renewed every generation (a cold cache)',
      ...r,
    }),
    nearCacheRequests: new Counter({
      name: 'settings_near_cache_requests_total',
      help: 'Near-cache (in-process L1) lookups: hit, miss, stale_token (older than the caller token; Redis is read), off (tracking not established or Redis untrusted)',
      labelNames: ['space', 'result'] as const,
      collect() {
        nearCacheRequestTally.flushInto(this);
      },
      ...r,
    }),
    nearCacheEvictions: new Counter({ name: 'settings_near_cache_evictions_total', help: 'Near-cache entries evicted by its entry or byte bound (LRU)', ...r }),
    nearCacheInvalidations: new Counter({
      name: 'settings_near_cache_invalidations_total',
      help: 'Near-cache entries dropped because Redis reported a change: key (entry or marker), generation (its space), flush (tracking lost or restarted, or a flush message)',
      labelNames: ['reason'] as const,
      ...r,
    }),
    nearCacheRefusedInstalls: new Counter({
      name: 'settings_near_cache_refused_installs_total',
      help: 'Redis replies not put into the near-cache because an invalidation of the key or of its space generation, or a flush (tracking lost or restarted), arrived while the read was in flight',
      ...r,
    }),
    nearCacheEntries,
    nearCacheBytes,
    nearCacheTracking: new Gauge({ name: 'settings_near_cache_tracking', help: '1 while Redis invalidation tracking is on (the near-cache then serves unless the Redis incarnation is unverified or the breaker open: requests{result=off}); 0 while tracking is off and the near-cache is bypassed', ...r }),
    fillLeases: new Counter({
      name: 'settings_fill_leases_total',
      help: 'Cold-key fill leases: acquired (this replica loads), filled_by_other (read another replica fill instead of PostgreSQL), gave_up (waited four lease lifetimes or to the deadline: loaded anyway), redis_error (the lease or the read failed: loaded without waiting)',
      labelNames: ['space', 'result'] as const,
      ...r,
    }),
    // Watch (src/watch, src/grpc/watch).
    watchStreams: new Gauge({ name: 'settings_watch_streams', help: 'Open WatchSettings streams on this replica', ...r }),
    watchPushes: new Counter({ name: 'settings_watch_pushes_total', help: 'Change messages written to Watch streams (bookmarks not counted)', ...r }),
    watchPushLag: new Histogram({
      name: 'settings_watch_push_lag_seconds',
      help: "From Redis' invalidation push for a watched key to the change message written to a stream",
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      ...r,
    }),
    watchResumeHolds: new Counter({
      name: 'settings_watch_resume_holds_total',
      help: "Resumed Watch targets held back because this replica's state was older than the caller's resume token, by how the hold ended: caught_up (this replica heard of the change) or expired (WATCH_RESUME_HOLD_MS passed; its state was sent)",
      labelNames: ['outcome'] as const,
      ...r,
    }),
    auditSamples: new Counter({
      name: 'settings_audit_samples_total',
      help: 'Sampled cache hits sent to the staleness auditor: published, or failed (dropped; the read is unaffected)',
      labelNames: ['result'] as const,
      ...r,
    }),
  };
}

export type SettingsMetrics = ReturnType<typeof createSettingsMetrics>;
