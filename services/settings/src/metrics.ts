import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * The service's Prometheus metrics. Names are part of the operations contract (dashboards and
 * alerts use them); each server instance has its own registry so in-process tests do not mix.
 */
export function createSettingsMetrics(registry = new Registry()) {
  collectDefaultMetrics({ register: registry, prefix: 'settings_process_' });
  const r = { registers: [registry] };
  return {
    registry,
    grpcRequests: new Counter({ name: 'settings_grpc_requests_total', help: 'gRPC calls by method and status code', labelNames: ['method', 'code'] as const, ...r }),
    grpcDuration: new Histogram({
      name: 'settings_grpc_request_duration_seconds',
      help: 'gRPC call latency by method',
      labelNames: ['method'] as const,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      ...r,
    }),
    cacheRequests: new Counter({
      name: 'settings_cache_requests_total',
      help: 'Cache lookups: hit, miss (absent or other generation), stale_token (entry older than the caller token), marker (evicted)',
      labelNames: ['space', 'result'] as const,
      ...r,
    }),
    cacheFills: new Counter({
      name: 'settings_cache_fills_total',
      help: 'Fill attempts after a database read: written, fenced (a marker or newer entry won), skipped_old (read too long ago)',
      labelNames: ['space', 'result'] as const,
      ...r,
    }),
    coalesced: new Counter({ name: 'settings_cache_coalesced_total', help: 'Reads that joined another request\'s in-flight database load', ...r }),
    dbQueries: new Counter({ name: 'settings_db_queries_total', help: 'Database queries by kind', labelNames: ['kind'] as const, ...r }),
    fallback: new Counter({ name: 'settings_cache_fallback_total', help: 'Reads served from PostgreSQL because Redis failed or the breaker was open', ...r }),
    loadShed: new Counter({ name: 'settings_load_shed_total', help: 'Reads rejected because the database fallback was at its concurrency limit', ...r }),
    circuitOpen: new Gauge({ name: 'settings_redis_circuit_open', help: '1 while the Redis circuit breaker is open or half-open', ...r }),
    generationsRenewed: new Counter({
      name: 'settings_cache_generations_renewed_total',
      help: 'Times this replica found a different Redis server (restart, failover, restore) and renewed every generation (a cold cache)',
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
