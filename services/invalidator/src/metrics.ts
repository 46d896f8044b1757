import { zeroedCounter } from '@settings/shared';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Why an event went to the dead-letter topic: the `reason` label (bounded). */
export const DEAD_LETTER_REASONS = ['not-json', 'invalid-envelope', 'unmapped'] as const;
export type DeadLetterReason = (typeof DEAD_LETTER_REASONS)[number];

/**
 * The invalidator's Prometheus metrics. Names are part of the operations contract: the
 * PrometheusRule in deploy/k8s alerts on lag, dead letters and long pauses by these names.
 */
export function createInvalidatorMetrics(registry = new Registry()) {
  collectDefaultMetrics({ register: registry, prefix: 'invalidator_process_' });
  const r = { registers: [registry] };
  return {
    registry,
    eventsConsumed: new Counter({ name: 'invalidator_events_consumed_total', help: 'Change events decoded from Kafka (tombstones and events dead-lettered as not-json or invalid-envelope not counted)', labelNames: ['table', 'op'] as const, ...r }),
    keysPlanned: new Counter({ name: 'invalidator_keys_planned_total', help: 'Keys named by change events, before per-batch deduplication', ...r }),
    keysApplied: new Counter({ name: 'invalidator_keys_applied_total', help: 'Distinct keys sent to Redis after deduplication', ...r }),
    keysEvicted: new Counter({ name: 'invalidator_keys_evicted_total', help: 'Cache changes actually made: markers written (the entry was older or absent), and key-space generations renewed (a TRUNCATE); a marker an attempt wrote before it failed and was re-sent is not counted', ...r }),
    dedupRatio: new Gauge({ name: 'invalidator_dedup_ratio', help: 'Keys applied / keys planned in the last chunk (1 = no duplicates)', ...r }),
    redisOps: new Counter({ name: 'invalidator_redis_ops_total', help: 'Redis commands of successful eviction round trips (evict-to-marker-batch calls and generation SETs; one call carries many keys; a cluster slot-motion fallback counts as one)', ...r }),
    redisErrors: new Counter({ name: 'invalidator_redis_errors_total', help: 'Failed Redis pipelines (retried)', ...r }),
    slotMotionFallbacks: new Counter({ name: 'invalidator_slot_motion_fallback_keys_total', help: 'Redis Cluster: keys evicted one call each because their batch call met a slot being migrated (or a stale slot map)', ...r }),
    pipelineSeconds: new Histogram({ name: 'invalidator_redis_pipeline_seconds', help: 'Latency of one eviction round trip (a pipeline of batch script calls); its p99 drives the adaptive ceiling', buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5], ...r }),
    rateMax: new Gauge({ name: 'invalidator_eviction_max_keys_per_second', help: 'Configured hard maximum of keys evicted per second (EVICTION_MAX_KEYS_PER_SECOND; 0 = none)', ...r }),
    rateCurrent: new Gauge({ name: 'invalidator_eviction_ceiling_keys_per_second', help: 'Current adaptive eviction ceiling in keys per second (follows Redis round-trip latency, at most the hard maximum)', ...r }),
    paused: new Gauge({ name: 'invalidator_consumer_paused', help: '1 while consumption is paused because Redis is failing', ...r }),
    // Zeroed: the first reset must be an increase of a series Prometheus already has, or the
    // alert on it (SettingsRedisConnectionsGoingSilent) cannot see it.
    redisSilentResets: zeroedCounter(new Counter({ name: 'invalidator_redis_silent_connection_resets_total', help: 'Redis connections replaced because every round trip timed out for 3 s with nothing closed (a dropped flow); connection = evictions (the probe) or audit', labelNames: ['connection'] as const, ...r }), 'connection', ['evictions', 'audit']),
    pausedSeconds: new Gauge({ name: 'invalidator_consumer_paused_seconds', help: 'How long consumption has been paused for Redis (0 when not paused)', ...r }),
    deadLettersHeld: new Gauge({ name: 'invalidator_dead_letters_held', help: 'Dead letters not yet published (the dead-letter topic refused them), held in memory while their partitions are consumed on; their partitions commit nothing past them', ...r }),
    deadLetterFailing: new Gauge({ name: 'invalidator_dead_letter_publish_failing', help: '1 while dead letters could not be published after DLQ_MAX_ATTEMPTS (not ready; the partition is blocked)', ...r }),
    redisHealthy: new Gauge({ name: 'invalidator_redis_healthy', help: '1 while the Redis health probe (a small write) succeeds', ...r }),
    secondsWithoutProgress: new Gauge({ name: 'invalidator_seconds_without_progress', help: 'Seconds this member has had lag, a healthy Redis and no dead-letter refusal without committing (liveness fails above LIVENESS_STALL_SECONDS)', ...r }),
    endToEndLag: new Histogram({
      name: 'invalidator_end_to_end_lag_seconds',
      help: 'Commit in Postgres (source.ts_ms) to eviction applied in Redis',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300],
      ...r,
    }),
    consumerLag: new Gauge({ name: 'invalidator_consumer_lag_messages', help: 'Messages behind the partition end, per partition', labelNames: ['topic', 'partition'] as const, ...r }),
    deadLetters: zeroedCounter(new Counter({ name: 'invalidator_dead_letter_total', help: 'Events sent to the dead-letter topic, by reason: not-json, invalid-envelope, unmapped', labelNames: ['reason'] as const, ...r }), 'reason', DEAD_LETTER_REASONS),
    // Zeroed: a first crash must be an increase of a series Prometheus already has.
    consumerCrashes: zeroedCounter(
      new Counter({ name: 'invalidator_consumer_crashes_total', help: "kafkajs consumer crashes (a broker unreachable past kafkajs' retries, a coordinator error, this member fenced), by whether this replica restarts the consumer: restarted = true | false (false: no restart; the replica stays crashed and its liveness fails, unless it is stopping)", labelNames: ['restarted'] as const, ...r }),
      'restarted',
      ['true', 'false'],
    ),
    batchesAborted: new Counter({ name: 'invalidator_batches_aborted_total', help: 'Batches abandoned (shutdown/rebalance) without committing', ...r }),
    // The staleness auditor (src/audit, README "Staleness auditor").
    auditChecked: new Counter({ name: 'invalidator_audit_checked_total', help: 'Sampled cache hits the auditor decided on (consistent or inconsistent)', ...r }),
    auditInconsistent: new Counter({ name: 'invalidator_audit_inconsistent_total', help: 'Sampled entries still older than their row one SLO after being found stale (each is logged and fenced)', ...r }),
    auditInconsistencyRatio: new Gauge({ name: 'invalidator_audit_inconsistency_ratio', help: 'inconsistent / checked since this replica started (windows: ratio of the counters\' increase)', ...r }),
    auditDbQueries: new Counter({ name: 'invalidator_audit_db_queries_total', help: 'Database statements of the auditor (one per table and batch of up to 100 keys)', ...r }),
    auditSkipped: new Counter({ name: 'invalidator_audit_skipped_total', help: 'Samples not audited: malformed, unmapped (key of no table), db_error, redis_error, same_entry (another sample of an entry already decided)', labelNames: ['reason'] as const, ...r }),
    auditHeld: new Gauge({ name: 'invalidator_audit_held_samples', help: 'Samples held in memory waiting for the SLO or a re-check', ...r }),
    auditLag: new Histogram({
      name: 'invalidator_audit_lag_seconds',
      help: 'Sample served to verdict (>= the SLO; about twice it for re-checked suspects)',
      buckets: [1, 2.5, 5, 7.5, 10, 15, 20, 30, 60, 120, 300],
      ...r,
    }),
  };
}

export type InvalidatorMetrics = ReturnType<typeof createInvalidatorMetrics>;
