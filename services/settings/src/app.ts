import type { Server as HttpServer } from 'node:http';
import type { Knex } from 'knex';
import { defaultCacheTiming, startProbesServer, type CacheTiming, type Logger } from '@settings/shared';
import { AuditSampler } from './cache/audit-sampler';
import { CircuitBreaker } from './cache/circuit-breaker';
import { ConcurrencyLimiter } from './cache/concurrency-limiter';
import { ReadThrough, type ReadThroughHooks } from './cache/read-through';
import { IncarnationGate } from './cache/incarnation-gate';
import { createSettingsRedis, type CacheRedis } from './cache/redis-client';
import type { SettingsConfig } from './config';
import { createKnex, Db } from './db/db';
import { createAuthenticator } from './grpc/auth';
import { setServing, startGrpcServer } from './grpc/server';
import { settingsService } from './grpc/settings-service';
import { createUnary } from './grpc/unary';
import { createSettingsMetrics, type SettingsMetrics } from './metrics';

export interface StartOptions {
  /** Test seams of the read path (e.g. pausing between a database read and its fill). */
  readThroughHooks?: ReadThroughHooks;
}

export interface RunningSettingsServer {
  readonly port: number;
  readonly metricsPort: number;
  readonly metrics: SettingsMetrics;
  readonly knex: Knex;
  readonly redis: CacheRedis;
  readonly breaker: CircuitBreaker;
  /** Health NOT_SERVING, drain calls (then cancel them), close PostgreSQL and Redis. */
  stop(): Promise<void>;
}

export function cacheTimingFrom(config: SettingsConfig): CacheTiming {
  return { ...defaultCacheTiming, entryTtlMs: config.CACHE_ENTRY_TTL_SECONDS * 1000, markerTtlMs: config.CACHE_MARKER_TTL_SECONDS * 1000 };
}

export async function startSettingsServer(config: SettingsConfig, log: Logger, options: StartOptions = {}): Promise<RunningSettingsServer> {
  const metrics = createSettingsMetrics();
  const authenticator = await createAuthenticator(config, log);
  const knex = createKnex(config.DATABASE_URL, config.DB_POOL_MAX, config.DB_STATEMENT_TIMEOUT_MS);
  const redis = createSettingsRedis(config.REDIS_URL, config.REDIS_COMMAND_TIMEOUT_MS, log);
  const breaker = new CircuitBreaker({
    failureThreshold: config.REDIS_BREAKER_FAILURE_THRESHOLD,
    openMs: config.REDIS_BREAKER_OPEN_MS,
    onStateChange: (state) => {
      metrics.circuitOpen.set(state === 'closed' ? 0 : 1);
      log.warn({ state }, 'redis circuit breaker state changed');
    },
  });
  metrics.circuitOpen.set(0);
  const incarnation = new IncarnationGate(redis, log, metrics);
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
    auditSampler: new AuditSampler(redis, config.AUDIT_SAMPLE_EVERY, metrics, log),
  });
  const db = new Db(knex, metrics, config.DB_STATEMENT_TIMEOUT_MS);

  let shuttingDown = false;
  const unary = createUnary({ authenticator, metrics, log, isShuttingDown: () => shuttingDown });
  const impl = settingsService({ unary, readThrough, db }, { staffListCacheMaxRows: config.STAFF_LIST_CACHE_MAX_ROWS });

  let grpc;
  let probes: { server: HttpServer; port: number };
  try {
    grpc = await startGrpcServer(impl, { host: config.GRPC_HOST, port: config.GRPC_PORT, maxMessageBytes: config.GRPC_MAX_MESSAGE_BYTES, log });
    probes = await startProbesServer(config.METRICS_PORT, metrics.registry, { live: () => true, ready: () => ({ ready: !shuttingDown }) });
  } catch (err) {
    grpc?.server.forceShutdown();
    await Promise.allSettled([knex.destroy(), redis.quit()]);
    throw err;
  }
  setServing(grpc.health, true);
  log.info({ port: grpc.port, metricsPort: probes.port, authMode: config.AUTH_MODE }, 'settings service listening');

  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      shuttingDown = true;
      setServing(grpc.health, false);
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
      await knex.destroy();
      // QUIT needs a live connection; otherwise just stop reconnecting.
      if (redis.status === 'ready') await redis.quit().catch(() => redis.disconnect());
      else redis.disconnect();
      log.info('settings service stopped');
    })();
    return stopped;
  };

  return { port: grpc.port, metricsPort: probes.port, metrics, knex, redis, breaker, stop };
}
