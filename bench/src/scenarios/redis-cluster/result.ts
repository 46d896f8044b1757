import type { H2loadResult } from '../../h2load';
import type { DrainRate } from '../../invalidator-drain';
import type { CacheTarget } from './cache-target';

/** A settings process under read load: its cache target, with the near-cache on (default) or off. */
export type ReadTarget = 'single' | 'cluster' | 'singleL1Off' | 'clusterL1Off';
export const READ_TARGETS: readonly ReadTarget[] = ['single', 'cluster', 'singleL1Off', 'clusterL1Off'];
export const READ_TARGET_LABELS: Record<ReadTarget, string> = {
  single: 'single Redis, near-cache on (default)',
  cluster: 'Redis Cluster (3 masters), near-cache on (default)',
  singleL1Off: 'single Redis, NEAR_CACHE_ENABLED=false',
  clusterL1Off: 'Redis Cluster (3 masters), NEAR_CACHE_ENABLED=false',
};

export interface ClusterReadRun {
  round: number;
  target: ReadTarget;
  saturated: H2loadResult;
  /** Share of this run's cache lookups that were hits (settings_cache_requests_total). */
  hitShare: number;
  /** Share of its lookups the near-cache (L1) served. */
  nearCacheHitShare: number;
}

export interface ClusterReadsResult {
  load: { clients: number; streams: number; saturateSeconds: number; rounds: number };
  /** A counted run of 1,000 requests per target returned one response message of the expected size each, and no measured run failed a request. */
  responsesVerified: boolean;
  runs: ClusterReadRun[];
  byTarget: Record<ReadTarget, { rps: number; p50Ms: number; p99Ms: number; hitShare: number; nearCacheHitShare: number }>;
  /** Cluster ÷ single Redis: medians of the per-round ratios. */
  ratios: { rps: number; p99: number; rpsL1Off: number; p99L1Off: number };
}

export interface ClusterEvictionRun extends DrainRate {
  round: number;
  target: CacheTarget;
}

export interface ClusterEvictionResult {
  events: number;
  /** How fast Debezium published the backlog (events/s, commit → last event in Kafka). */
  debeziumEventsPerSecond: number;
  runs: ClusterEvictionRun[];
  byTarget: Record<CacheTarget, { keysPerSecond: number; drainSeconds: number }>;
  /** Cluster ÷ single Redis keys/s: median of the per-round ratios. */
  keysPerSecondRatio: number;
}

export interface RedisClusterResult {
  /** The cluster's seed nodes, and whether this run had to start it (then it stopped it too). */
  nodes: string;
  startedByRun: boolean;
  reads: ClusterReadsResult;
  eviction: ClusterEvictionResult;
}
