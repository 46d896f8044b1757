import { ConfigError, commonEnv, env, kafkaClientOptions, kafkaEnv, loadEnv, localAuditorDatabaseUrl, localStack, type EnvValues } from '@settings/shared';

/** Every variable the invalidator reads; docs and the Kubernetes invariant test use this list. */
export const invalidatorEnvSchema = {
  ...commonEnv,
  ...kafkaEnv,
  KAFKA_GROUP_ID: env.string('consumer group shared by all invalidator replicas', 'settings-invalidator'),
  KAFKA_TOPIC_PREFIX: env.string("Debezium topic.prefix; change topics are <prefix>.public.<table>", localStack.topicPrefix),
  KAFKA_CREATE_TOPICS: env.bool('create missing change/DLQ topics at start (local stack; off where topics are managed, e.g. Strimzi KafkaTopic)', true),
  CHANGE_TOPIC_PARTITIONS: env.int('partitions for topics this service creates', 3, { min: 1, max: 1000 }),
  DLQ_TOPIC: env.string('dead-letter topic for malformed or unknown change events', 'settings.invalidator.dlq'),
  // 10 s, not kafkajs' 30 s: a replica killed without leaving the group (SIGKILL, OOM, a lost
  // node), or every broker gone at once, stops invalidation until the dead member's session
  // expires unless it comes back with its static instance id (KAFKA_GROUP_INSTANCE_ID): its own
  // partitions, and every partition once a new member joins. Measured on the local stack, kill →
  // every later change evicted with dynamic membership: 29.9 s at 30 s, 10.0 s at 10 s
  // (test/integration/replica-killed.test.ts); a restart of the only broker → evicting again
  // 29 s after Connect published again at 30 s, 9 s at 10 s.
  // Heartbeats go out after every eviction round trip (REDIS_COMMAND_TIMEOUT_MS at most) and
  // every second of a back-off, so a live replica is not taken for dead.
  KAFKA_SESSION_TIMEOUT_MS: env.int('consumer group session timeout: how long a replica killed without leaving the group stops invalidation unless it comes back with its KAFKA_GROUP_INSTANCE_ID (its partitions; all of them once a new member joins)', 10_000, { min: 6_000, max: 300_000 }),
  KAFKA_REBALANCE_TIMEOUT_MS: env.int('how long a rebalance waits for live members to rejoin (a dead one is dropped when its session expires)', 30_000, { min: 6_000, max: 600_000 }),
  // Static membership (Kafka's group.instance.id, KIP-345; kafkajs patched to send it,
  // patches/kafkajs+2.2.4.patch): a replica that comes back with the same id (a container
  // restarted in its pod after a SIGKILL or an OOM kill, a consumer restarted after a crash or
  // a Kafka outage) takes its old member's place and partitions at once, without a rebalance
  // and without waiting for that member's session to expire. Measured on the local stack, kill
  // → every later change evicted, the replacement started at once: 10.0 s dynamic, 0.1-0.8 s
  // static (test/integration/replica-killed.test.ts).
  KAFKA_GROUP_INSTANCE_ID: env.string("static group membership (group.instance.id): one id per live replica that a restarted replica keeps (Kubernetes: the pod's name); a second live replica with the same id fences the first; empty: dynamic membership", ''),
  HTTP_PORT: env.int('HTTP port for /metrics, /healthz, /readyz', 9465, { min: 0, max: 65535 }),
  EVICTION_MAX_KEYS_PER_SECOND: env.int('hard maximum of keys evicted per second per replica (0 = none); the adaptive ceiling follows Redis latency below it', 50_000, { min: 0 }),
  REDIS_MAX_INFLIGHT_PIPELINES: env.int('eviction round trips in flight to Redis at once, for the whole replica', 2, { min: 1, max: 64 }),
  REDIS_PIPELINE_SIZE: env.int('most keys per eviction round trip (a pipeline of batch script calls); a round trip also holds at most 50 ms of the current ceiling', 1000, { min: 1, max: 10_000 }),
  REDIS_EVICTION_BATCH_KEYS: env.int('keys per evict-to-marker-batch script call (one call blocks Redis for its duration: ~1-2 µs per key)', 100, { min: 1, max: 1000 }),
  REDIS_LATENCY_TARGET_MS: env.int('p99 of eviction round trips above which the adaptive ceiling backs off (while Redis is busy)', 20, { min: 1 }),
  REDIS_BUSY_CPU_PERCENT: env.int("Redis main-thread CPU (percent of one core, from INFO cpu) at or above which Redis counts as busy: slow round trips only cut the ceiling while Redis is busy (0: latency alone decides)", 50, { min: 0, max: 100 }),
  REDIS_COMMAND_TIMEOUT_MS: env.int('a Redis eviction round trip slower than this counts as failed and is retried', 2000, { min: 10 }),
  CACHE_MARKER_TTL_SECONDS: env.int('lifetime of eviction markers (must exceed the slowest cache fill)', 600, { min: 1 }),
  BATCH_CHUNK_SIZE: env.int('change events applied (and committed) together', 2000, { min: 1 }),
  KAFKA_PARTITIONS_CONCURRENTLY: env.int('partitions whose batches are applied at the same time (each partition stays in order and commits after its own evictions)', 6, { min: 1, max: 100 }),
  REDIS_PROBE_INTERVAL_MS: env.int('Redis health probe period (a small write); a paused consumer resumes within one period after the client has reconnected (its backoff is capped at 2 s)', 1000, { min: 50, max: 60_000 }),
  LIVENESS_STALL_SECONDS: env.int('liveness fails when this member has lag and Redis is healthy but nothing was committed for this long', 120, { min: 10 }),
  PROGRESS_CHECK_INTERVAL_MS: env.int('how often committed offsets and partition ends are compared for the liveness check', 10_000, { min: 100 }),
  DLQ_MAX_ATTEMPTS: env.int('failed dead-letter publish attempts of a partition (backing off 250 ms doubling to 5 s between them) before the replica reports not ready (it keeps retrying; the partition is consumed and evicted on meanwhile)', 8, { min: 1 }),
  DLQ_SEND_TIMEOUT_MS: env.int("longest one dead-letter send may take before the attempt counts as failed (its batch holds up this replica's fetches from that batch's broker meanwhile); the producer's own tries against a refusing broker take about 2 s", 10_000, { min: 1000 }),
  DLQ_MAX_SEND_BYTES: env.int("encoded bytes of dead letters per produce request, below the dead-letter topic's max.message.bytes (broker default 1048588); a single larger dead letter has its value cut to fit", 512 * 1024, { min: 8192 }),
  // The staleness auditor (src/audit): off without a database. Local stack: the read-only
  // auditor role of deploy/postgres/bootstrap.sql.
  DATABASE_URL: {
    ...env.url('PostgreSQL the staleness auditor reads row versions from (sessions are read-only); empty: auditor off', ['postgres:', 'postgresql:'], ''),
    localStackDefault: localAuditorDatabaseUrl,
    localStackDefaultText: localAuditorDatabaseUrl,
  },
  AUDIT_SLO_MS: env.int('invalidation-lag SLO: a sampled entry still older than its row this long after being served, and again one SLO later, is inconsistent', 5000, { min: 100 }),
  AUDIT_MAX_QUERIES_PER_SECOND: env.int("ceiling on the auditor's database statements per second (each checks up to 100 keys of one table; pool of 2 connections)", 20, { min: 1, max: 1000 }),
};

export type InvalidatorConfig = EnvValues<typeof invalidatorEnvSchema>;

export function loadInvalidatorConfig(source: NodeJS.ProcessEnv = process.env): InvalidatorConfig {
  // Renamed when the ceiling started counting keys instead of Redis commands (issue 12): a
  // deployment still setting the old name would silently run with the new default.
  if (source.REDIS_MAX_OPS_PER_SECOND !== undefined) {
    throw new ConfigError(['REDIS_MAX_OPS_PER_SECOND was replaced by EVICTION_MAX_KEYS_PER_SECOND (keys evicted per second, not Redis commands): rename it']);
  }
  const config = loadEnv(invalidatorEnvSchema, source);
  // TLS/SASL combinations and their files are checked here too, so a bad one is a ConfigError
  // (exit 2, one line per problem) like any other configuration mistake, not a start-up crash.
  kafkaClientOptions(config);
  return config;
}
