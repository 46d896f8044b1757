import { Kafka, logLevel as kafkaLogLevel } from 'kafkajs';
import { CACHED_TABLES, changeTopic, createCacheRedis, createMissingTopics, kafkaClientOptions, startProbesServer, type Logger, type Startup } from '@settings/shared';
import type { Server } from 'node:http';
import type { InvalidatorConfig } from './config';
import { RedisHealthProbe } from './backpressure/redis-health-probe';
import { backoffMs } from './backpressure/retry-backoff';
import { ChangeConsumer } from './consumer/change-consumer';
import { kafkajsLogCreator } from './consumer/kafkajs-log';
import { ProgressWatchdog } from './consumer/progress-watchdog';
import { RedisEvictor } from './eviction/redis-evictor';
import { startAuditor } from './audit/start-auditor';
import type { StalenessAuditor } from './audit/staleness-auditor';
import { createInvalidatorMetrics, type InvalidatorMetrics } from './metrics';

export interface RunningInvalidator {
  metrics: InvalidatorMetrics;
  consumer: ChangeConsumer;
  redisHealth: RedisHealthProbe;
  watchdog: ProgressWatchdog;
  /** The staleness auditor; undefined without DATABASE_URL. */
  auditor: StalenessAuditor | undefined;
  httpPort: number;
  stop(): Promise<void>;
}

/** Wires config → Redis, Kafka, evictor, consumer and the probes server, and starts them. */
export async function startInvalidator(config: InvalidatorConfig, log: Logger, startup?: Startup): Promise<RunningInvalidator> {
  // TLS and SASL from KAFKA_SSL*/KAFKA_SASL_* (reads the CA and password files): a ConfigError
  // before anything connects.
  const kafkaSecurity = kafkaClientOptions(config);
  const metrics = createInvalidatorMetrics();
  // Fail fast while Redis is down (see createCacheRedis): the evictor retries with backoff and
  // the consumer pauses; an offline queue would pile evictions up in memory and hide the outage.
  // No auto-pipelining, on a cluster either: ioredis routes an auto-pipeline by a command's first
  // argument, which for evict-to-marker-batch is its key count, not a key; the per-slot calls
  // (redis-evictor.ts) are written to each master's socket back to back anyway.
  const redis = createCacheRedis(config.REDIS_URL, { commandTimeoutMs: config.REDIS_COMMAND_TIMEOUT_MS, autoPipelining: false, lazyConnect: true, clusterNodes: config.REDIS_CLUSTER_NODES });
  redis.on('error', (err: Error) => log.debug({ err: err.message }, 'redis connection error'));
  await redis.connect().catch((err: unknown) => log.warn({ err: (err as Error).message }, 'Redis not reachable at start; evictions will wait for it'));

  const kafka = new Kafka({
    clientId: config.KAFKA_CLIENT_ID,
    brokers: config.KAFKA_BROKERS,
    ...kafkaSecurity,
    logLevel: kafkaLogLevel.WARN,
    logCreator: kafkajsLogCreator(log),
  });
  const topics = CACHED_TABLES.map((t) => changeTopic(config.KAFKA_TOPIC_PREFIX, t));

  const evictor = new RedisEvictor(
    redis,
    {
      maxKeysPerSecond: config.EVICTION_MAX_KEYS_PER_SECOND,
      maxInflightPipelines: config.REDIS_MAX_INFLIGHT_PIPELINES,
      pipelineKeys: config.REDIS_PIPELINE_SIZE,
      scriptBatchKeys: config.REDIS_EVICTION_BATCH_KEYS,
      latencyTargetMs: config.REDIS_LATENCY_TARGET_MS,
      redisBusyCpuFraction: config.REDIS_BUSY_CPU_PERCENT / 100,
      markerTtlMs: config.CACHE_MARKER_TTL_SECONDS * 1000,
      onCpuSampleRefused: (err) =>
        log.warn({ err: err.message }, "Redis refuses INFO to this user (ACL): the eviction ceiling cannot tell a busy Redis from a slow machine and backs off on round-trip latency alone; grant '+info' to follow Redis's CPU"),
    },
    metrics,
  );
  const redisHealth = new RedisHealthProbe(redis, { intervalMs: config.REDIS_PROBE_INTERVAL_MS, onSilentReset: () => metrics.redisSilentResets.inc({ connection: 'evictions' }) }, log);
  redisHealth.onProbe((healthy) => metrics.redisHealthy.set(healthy ? 1 : 0));
  const consumer = new ChangeConsumer(
    kafka,
    evictor,
    redisHealth,
    {
      groupId: config.KAFKA_GROUP_ID,
      topics,
      dlqTopic: config.DLQ_TOPIC,
      chunkSize: config.BATCH_CHUNK_SIZE,
      sessionTimeoutMs: config.KAFKA_SESSION_TIMEOUT_MS,
      rebalanceTimeoutMs: config.KAFKA_REBALANCE_TIMEOUT_MS,
      groupInstanceId: config.KAFKA_GROUP_INSTANCE_ID || undefined,
      dlqMaxAttempts: config.DLQ_MAX_ATTEMPTS,
      dlqMaxSendBytes: config.DLQ_MAX_SEND_BYTES,
      dlqSendTimeoutMs: config.DLQ_SEND_TIMEOUT_MS,
    },
    log,
    metrics,
  );
  const watchdog = new ProgressWatchdog(
    kafka.admin(),
    { groupId: config.KAFKA_GROUP_ID, stallMs: config.LIVENESS_STALL_SECONDS * 1000, checkIntervalMs: config.PROGRESS_CHECK_INTERVAL_MS },
    { assignment: () => consumer.assignment, redisHealthy: () => redisHealth.healthy, deadLettersFailing: () => consumer.deadLetterFailing },
    metrics,
    log,
  );

  const probes = await startProbesServer(config.HTTP_PORT, metrics.registry, {
    // Restart on a crashed consumer, or one wedged with lag while Redis is healthy.
    live: () => consumer.state !== 'crashed' && watchdog.live,
    ready: () => ({
      ready: consumer.state === 'running' && consumer.joined && !consumer.deadLetterFailing,
      detail: { state: consumer.state, joined: consumer.joined, paused: consumer.paused, redisHealthy: redisHealth.healthy, deadLetterFailing: consumer.deadLetterFailing, progressing: watchdog.live },
    }),
  });
  redisHealth.start();
  evictor.start();
  // Kafka unreachable at start-up (a rollout or a node drain while the brokers restart): retried
  // here, live and not ready, instead of exiting into Kubernetes' crash-loop back-off (up to
  // 5 minutes more without evictions once Kafka is back). A signal meanwhile exits (runMain).
  if (config.KAFKA_CREATE_TOPICS) await untilKafkaAnswers('create topics', () => ensureTopics(kafka, [...topics, config.DLQ_TOPIC], config.CHANGE_TOPIC_PARTITIONS, log), log);
  // The watchdog's admin client first: while it waits for Kafka a signal exits with nothing to
  // drain, as intended. Joined first, the group kept a member that a signal during the watchdog's
  // wait (kafkajs resolves consumer.run and retries the join by itself) exited without leaving:
  // its partitions stalled for a session timeout in the very rollout-during-Kafka-restart case.
  await untilKafkaAnswers('start the progress watchdog', () => watchdog.start(), log);
  // A signal during the join waits for it (runMain), then the drain leaves the group: exited
  // mid-join (the broker holds a JoinGroup until the other members rejoin, up to the rebalance
  // timeout in a rolling update), the member was still given partitions, which no one read
  // until its session timed out.
  const join = (): Promise<void> => consumer.start(config.KAFKA_PARTITIONS_CONCURRENTLY);
  await untilKafkaAnswers('join the consumer group', () => (startup ? startup.completeBeforeExit('joining the consumer group', join) : join()), log);
  const auditor = startAuditor(config, redis, metrics, log);
  log.info({ topics, group: config.KAFKA_GROUP_ID, httpPort: probes.port, maxKeysPerSecond: config.EVICTION_MAX_KEYS_PER_SECOND }, 'invalidator started');

  let stopped: Promise<void> | undefined;
  return {
    metrics,
    consumer,
    redisHealth,
    watchdog,
    auditor,
    httpPort: probes.port,
    stop: () =>
      (stopped ??= (async () => {
        redisHealth.stop();
        evictor.stop();
        // Begun first (it marks the consumer stopping at once, then drains): a consumer that
        // crashed meanwhile is not restarted while the auditor and the watchdog stop.
        const consumerStopped = consumer.stop();
        await auditor?.stop();
        await watchdog.stop();
        await consumerStopped;
        await new Promise<void>((r) => (probes.server as Server).close(() => r()));
        redis.disconnect();
      })()),
  };
}

/** Runs `step` until it succeeds, backing off 0.5 s doubling to 10 s, and logs each failure. */
async function untilKafkaAnswers(what: string, step: () => Promise<void>, log: Logger): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await step();
      return;
    } catch (err) {
      const waitMs = backoffMs(attempt, 500, 10_000, () => 1);
      log.warn({ err: (err as Error).message, attempt: attempt + 1, retryInMs: waitMs }, `Kafka did not answer at start-up (${what}); retrying, not ready meanwhile`);
      await new Promise((r) => setTimeout(r, waitMs));
    }
  }
}

async function ensureTopics(kafka: Kafka, topics: string[], partitions: number, log: Logger): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const created = await createMissingTopics(admin, topics, partitions);
    if (created.length > 0) log.info({ topics: created, partitions }, 'created missing topics');
  } finally {
    await admin.disconnect();
  }
}
