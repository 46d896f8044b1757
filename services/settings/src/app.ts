import type { Server as HttpServer } from 'node:http';
import type { Knex } from 'knex';
import { defaultCacheTiming, isRedisCluster, PayloadGenerations, startProbesServer, type CacheTiming, type Logger, type PayloadFormats } from '@settings/shared';
import { AuditSampler } from './cache/audit-sampler';
import { CircuitBreaker } from './cache/circuit-breaker';
import { ConcurrencyLimiter } from './cache/concurrency-limiter';
import { ReadThrough, type ReadThroughHooks } from './cache/read-through';
import { IncarnationGate } from './cache/incarnation-gate';
import { REDIS_HEARTBEAT_MS, RedisNodeHeartbeat } from './cache/redis-node-heartbeat';
import { createInvalidationSubscriber, createNodeTrackingConnection, createSettingsRedis, type CacheRedis } from './cache/redis-client';
import { InvalidationTracking, type NearCacheTracking } from './cache/invalidation-tracking';
import { ClusterInvalidationTracking } from './cache/cluster-invalidation-tracking';
import { StaffPermissionsRepo } from './db/staff-permissions-repo';
import { WatchSettings } from './grpc/watch/watch-settings';
import { watchTargetParser } from './grpc/watch/watch-targets';
import { KeyChangeBroadcast } from './watch/key-change-feed';
import { StreamLimits } from './watch/stream-limits';
import { WatchHub } from './watch/watch-hub';
import { NearCache } from './cache/near-cache';
import type { SettingsConfig } from './config';
import { FairShareLimiter } from './admission/fair-share-limiter';
import { refusedCallerLog } from './admission/refused-caller-log';
import { ConsistencyTokens } from './consistency/token';
import { createKnex, Db } from './db/db';
import { SchemaCheck } from './db/schema-check';
import { connectionPoolOf, occupancyOf, timeConnectionWaits } from './db/pool-metrics';
import { createAuthenticator } from './grpc/auth';
import { setReady, setServing, startGrpcServer } from './grpc/server';
import { settingsService } from './grpc/settings-service';
import { createUnary } from './grpc/unary';
import { createSettingsMetrics, type SettingsMetrics } from './metrics';
import { INSECURE_DEV_TOKEN_SECRET } from './insecure-dev-guard';

export interface StartOptions {
  /** Test seams of the read path (e.g. pausing between a database read and its fill). */
  readThroughHooks?: ReadThroughHooks;
  /** Test seam: the payload formats of another release (two releases sharing one Redis). */
  payloadFormats?: PayloadFormats;
}

export interface RunningSettingsServer {
  readonly port: number;
  readonly metricsPort: number;
  readonly metrics: SettingsMetrics;
  /** The read pool (cache misses, fully_consistent and token reads). */
  readonly knex: Knex;
  /** The write pool (saves), separate so neither can starve the other. */
  readonly writeKnex: Knex;
  readonly redis: CacheRedis;
  readonly breaker: CircuitBreaker;
  /** The near-cache and its tracking; undefined with NEAR_CACHE_ENABLED=false. */
  readonly nearCache: { readonly cache: NearCache; readonly tracking: NearCacheTracking; readonly subscriber: { disconnect(): void } | undefined } | undefined;
  /** Health NOT_SERVING, drain calls (then cancel them), close PostgreSQL and Redis. */
  stop(): Promise<void>;
}

export function cacheTimingFrom(config: SettingsConfig): CacheTiming {
  return { ...defaultCacheTiming, entryTtlMs: config.CACHE_ENTRY_TTL_SECONDS * 1000, markerTtlMs: config.CACHE_MARKER_TTL_SECONDS * 1000 };
}

export async function startSettingsServer(config: SettingsConfig, log: Logger, options: StartOptions = {}): Promise<RunningSettingsServer> {
  const metrics = createSettingsMetrics();
  const authenticator = await createAuthenticator(config, log);
  // Both pools refuse a standby; the write pool also a read-only session, and bounds every
  // statement's lock wait (session-requirements.ts).
  const knex = createKnex(config.DATABASE_URL, config.DB_READ_POOL_MAX, config.DB_STATEMENT_TIMEOUT_MS, 'settings-service-read', log, { primaryOnly: true, writable: false });
  const writeKnex = createKnex(config.DATABASE_URL, config.DB_WRITE_POOL_MAX, config.DB_STATEMENT_TIMEOUT_MS, 'settings-service-write', log, {
    primaryOnly: true,
    writable: true,
    lockTimeoutMs: config.DB_LOCK_TIMEOUT_MS,
  });
  for (const [pool, k] of [['read', knex], ['write', writeKnex]] as const) {
    const connections = connectionPoolOf(k);
    metrics.dbPools.set(pool, () => occupancyOf(connections));
    timeConnectionWaits(connections, (seconds) => metrics.dbPoolWait.observe({ pool }, seconds));
  }
  const tokens = new ConsistencyTokens(consistencyTokenSecret(config, log), config.CONSISTENCY_TOKEN_PREVIOUS_SECRET);
  const redis = createSettingsRedis(config.REDIS_URL, config.REDIS_CLUSTER_NODES, config.REDIS_COMMAND_TIMEOUT_MS, log);
  // A data connection gone silent (nothing closed, every round trip timed out for 3 s) is
  // replaced: otherwise the breaker's probes met the same silence every REDIS_BREAKER_OPEN_MS and
  // every read went to PostgreSQL until TCP keepalive noticed, hours later. (With the near-cache
  // on, its tracking heartbeat notices first.)
  const heartbeat = new RedisNodeHeartbeat(redis, log, { intervalMs: REDIS_HEARTBEAT_MS, onReset: () => metrics.redisSilentResets.inc() });
  const breaker = new CircuitBreaker({
    failureThreshold: config.REDIS_BREAKER_FAILURE_THRESHOLD,
    openMs: config.REDIS_BREAKER_OPEN_MS,
    onStateChange: (state) => {
      metrics.circuitOpen.set(state === 'closed' ? 0 : 1);
      log.warn({ state }, 'redis circuit breaker state changed');
    },
  });
  metrics.circuitOpen.set(0);
  // Bounded: a check is a handful of round trips, each bounded by the command timeout.
  const incarnation = new IncarnationGate(redis, log, metrics, Math.max(1000, 10 * config.REDIS_COMMAND_TIMEOUT_MS));
  // What Redis tracking reports, for Watch streams too (src/watch).
  const keyChanges = new KeyChangeBroadcast();
  const logRefusedCaller = refusedCallerLog(log);
  const nearCache = config.NEAR_CACHE_ENABLED ? startNearCache(config, redis, metrics, log, keyChanges) : undefined;
  if (!(await incarnation.waitTrusted(2000))) log.warn('redis not reachable (or not verified) at start; serving from PostgreSQL until it is');
  const readThrough = new ReadThrough({
    redis,
    breaker,
    fallbackLimiter: new ConcurrencyLimiter(config.DB_FALLBACK_MAX_CONCURRENCY),
    metrics,
    timing: cacheTimingFrom(config),
    log,
    hooks: options.readThroughHooks,
    cacheTrusted: () => incarnation.isTrusted,
    masterVerified: (node) => incarnation.verifiedMaster(node),
    auditSampler: new AuditSampler(redis, config.AUDIT_SAMPLE_EVERY, metrics, log, options.payloadFormats ? { payloadFormats: options.payloadFormats } : {}),
    near: nearCache?.cache,
    absentTtlMs: config.CACHE_NOT_FOUND_TTL_SECONDS * 1000,
    payloadGenerations: new PayloadGenerations(options.payloadFormats),
    fillLease: config.FILL_LEASE_MS > 0 ? { ttlMs: config.FILL_LEASE_MS, pollMs: Math.max(5, Math.min(25, Math.round(config.FILL_LEASE_MS / 10))) } : undefined,
    deliberateReads: new FairShareLimiter(
      {
        capacity: config.DB_DELIBERATE_READ_MAX_CONCURRENCY,
        perCallerMax: config.DB_DELIBERATE_READS_PER_CALLER,
        maxWaitMs: config.DB_DELIBERATE_READ_MAX_WAIT_MS,
        perCallerPerSecond: config.DB_DELIBERATE_READS_PER_CALLER_PER_SECOND,
        perCallerBurst: config.DB_DELIBERATE_READ_BURST_PER_CALLER,
        refusalDelayMs: config.DB_DELIBERATE_READ_REFUSAL_DELAY_MS,
      },
      (result, callerId) => {
        metrics.deliberateReads.inc({ result });
        logRefusedCaller(result, callerId);
      },
    ),
  });
  const db = new Db({ read: knex, write: writeKnex }, metrics, {
    statementCapMs: config.DB_STATEMENT_TIMEOUT_MS,
    lockTimeoutMs: config.DB_LOCK_TIMEOUT_MS,
    lockWaitMax: config.DB_LOCK_WAIT_MAX_CONCURRENCY,
    writePoolMax: config.DB_WRITE_POOL_MAX,
    writeQueueMax: config.DB_WRITE_QUEUE_MAX,
    answerGraceMs: config.DB_ANSWER_GRACE_MS,
  });

  let shuttingDown = false;
  // The gRPC health service, once it exists: a schema verdict sets it (the first may come before).
  const served: { health?: Parameters<typeof setServing>[0] } = {};
  const schema = new SchemaCheck(knex, log, (fits) => {
    if (served.health && !shuttingDown) setReady(served.health, fits);
  });
  await schema.start();
  const unary = createUnary({ authenticator, metrics, log, isShuttingDown: () => shuttingDown });
  const methodDeps = { unary, readThrough, db, tokens };
  const staffListCache = { maxRows: config.STAFF_LIST_CACHE_MAX_ROWS, maxBytes: config.STAFF_LIST_CACHE_MAX_BYTES };
  const watch = new WatchSettings({
    hub: nearCache ? new WatchHub(keyChanges, { retryMs: 1000, onReadError: (key, err) => log.warn({ err, key }, 'watch re-read failed; retrying') }) : undefined,
    limits: new StreamLimits(config.WATCH_MAX_STREAMS, config.WATCH_MAX_STREAMS_PER_CALLER),
    targets: watchTargetParser(methodDeps, new StaffPermissionsRepo(db, tokens), staffListCache),
    authenticator,
    metrics,
    log,
    progressIntervalMs: config.WATCH_PROGRESS_INTERVAL_MS,
    resumeHoldMs: config.WATCH_RESUME_HOLD_MS,
    isShuttingDown: () => shuttingDown,
  });
  const impl = settingsService(methodDeps, { staffListCache, watchSettings: watch.handler });

  /** Every Redis connection, the near-cache's too (a failed start-up left them reconnecting). */
  const closeRedis = async (): Promise<void> => {
    // Before the connections close: their closes are the shutdown, not a lost tracking.
    nearCache?.tracking.close();
    heartbeat.stop();
    // QUIT needs a live connection (ioredis refuses it on one that is not ready, offline queue
    // off); otherwise just stop reconnecting.
    if (redis.status === 'ready') await redis.quit().catch(() => redis.disconnect());
    else redis.disconnect();
    nearCache?.subscriber?.disconnect();
  };
  let grpc;
  let probes: { server: HttpServer; port: number };
  try {
    grpc = await startGrpcServer(impl, { host: config.GRPC_HOST, port: config.GRPC_PORT, maxMessageBytes: config.GRPC_MAX_MESSAGE_BYTES, maxConcurrentStreams: config.GRPC_MAX_CONCURRENT_STREAMS, log });
    probes = await startProbesServer(config.METRICS_PORT, metrics.registry, { live: () => true, ready: () => ({ ready: !shuttingDown && schema.fits, detail: { schemaFits: schema.fits } }) });
  } catch (err) {
    schema.stop();
    grpc?.server.forceShutdown();
    await Promise.allSettled([knex.destroy(), writeKnex.destroy(), closeRedis()]);
    throw err;
  }
  served.health = grpc.health;
  setServing(grpc.health, true);
  setReady(grpc.health, schema.fits);
  log.info({ port: grpc.port, metricsPort: probes.port, authMode: config.AUTH_MODE }, 'settings service listening');

  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      shuttingDown = true;
      schema.stop();
      setServing(grpc.health, false);
      // Open streams would hold tryShutdown until the grace period: tell watchers to resume
      // elsewhere, and end health Watch calls (they have just been sent NOT_SERVING).
      watch.endAll();
      grpc.endHealthWatches();
      await new Promise<void>((resolve) => {
        const force = setTimeout(() => {
          log.warn('grace period over: cancelling remaining calls');
          grpc.server.forceShutdown();
          resolve();
        }, config.SHUTDOWN_GRACE_MS);
        grpc.server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      });
      await new Promise<void>((resolve) => probes.server.close(() => resolve()));
      await db.close();
      await closeRedis();
      log.info('settings service stopped');
    })();
    return stopped;
  };

  return { nearCache, port: grpc.port, metricsPort: probes.port, metrics, knex, writeKnex, redis, breaker, stop };
}

/**
 * insecure-dev without a key signs with a fixed, public development key (the config check makes
 * jwt mode supply one): local runs keep working, and such tokens are worthless anywhere else.
 */
function consistencyTokenSecret(config: SettingsConfig, log: Logger): string {
  if (config.CONSISTENCY_TOKEN_SECRET !== '') return config.CONSISTENCY_TOKEN_SECRET;
  log.warn('CONSISTENCY_TOKEN_SECRET not set: signing consistency tokens with the public development key (insecure-dev only)');
  return INSECURE_DEV_TOKEN_SECRET;
}

/** The near-cache, its size gauges and its Redis tracking (one Redis: subscriber connection + CLIENT TRACKING; a cluster: one connection per master). */
function startNearCache(config: SettingsConfig, redis: CacheRedis, metrics: SettingsMetrics, log: Logger, keyChanges: KeyChangeBroadcast) {
  const cache = new NearCache({
    maxEntries: config.NEAR_CACHE_MAX_ENTRIES,
    maxBytes: config.NEAR_CACHE_MAX_BYTES,
    onEvict: () => metrics.nearCacheEvictions.inc(),
    onInvalidate: (reason, count) => metrics.nearCacheInvalidations.inc({ reason }, count),
    onRefused: () => metrics.nearCacheRefusedInstalls.inc(),
  });
  metrics.nearCacheSize.read = () => cache.size;
  metrics.nearCacheTracking.set(0);
  const onState = (state: 'on' | 'off'): void => metrics.nearCacheTracking.set(state === 'on' ? 1 : 0);
  if (isRedisCluster(redis)) {
    // One tracking connection per master (cluster-invalidation-tracking.ts); it owns and closes them.
    const connect = (node: { host: string; port: number }) => createNodeTrackingConnection(config.REDIS_URL, node, config.REDIS_COMMAND_TIMEOUT_MS, log);
    return { cache, tracking: new ClusterInvalidationTracking(redis, connect, cache, log, onState, keyChanges), subscriber: undefined };
  }
  const subscriber = createInvalidationSubscriber(config.REDIS_URL, config.REDIS_COMMAND_TIMEOUT_MS, log);
  const tracking = new InvalidationTracking(redis, subscriber, cache, log, onState, keyChanges);
  return { cache, tracking, subscriber };
}
