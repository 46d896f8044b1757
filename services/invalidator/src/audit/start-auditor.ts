import type { CacheRedis, Logger } from '@settings/shared';
import { TokenBucket } from '../backpressure/token-bucket';
import type { InvalidatorConfig } from '../config';
import type { InvalidatorMetrics } from '../metrics';
import { pgRowVersions } from './row-versions';
import { redisSampleStream } from './sample-stream';
import { redisAuditCache, StalenessAuditor } from './staleness-auditor';

/** Starts the staleness auditor when DATABASE_URL is set; its stream group is the Kafka group. */
export function startAuditor(config: InvalidatorConfig, redis: CacheRedis, metrics: InvalidatorMetrics, log: Logger): StalenessAuditor | undefined {
  if (config.DATABASE_URL === '') {
    log.info('staleness auditor off (no DATABASE_URL)');
    return undefined;
  }
  const auditor = new StalenessAuditor(
    {
      source: redisSampleStream(config.REDIS_URL, config.KAFKA_GROUP_ID, log, { clusterNodes: config.REDIS_CLUSTER_NODES, onSilentReset: () => metrics.redisSilentResets.inc({ connection: 'audit' }) }),
      rows: pgRowVersions(config.DATABASE_URL, log),
      cache: redisAuditCache(redis, config.CACHE_MARKER_TTL_SECONDS * 1000),
      limiter: new TokenBucket(config.AUDIT_MAX_QUERIES_PER_SECOND, 1),
      metrics,
      log,
    },
    { sloMs: config.AUDIT_SLO_MS },
  );
  auditor.start();
  log.info({ sloMs: config.AUDIT_SLO_MS, maxQueriesPerSecond: config.AUDIT_MAX_QUERIES_PER_SECOND }, 'staleness auditor started');
  return auditor;
}
