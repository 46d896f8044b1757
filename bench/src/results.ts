import type { BenchSizes, ScenarioName } from './context';
import type { MachineInfo, Versions } from './machine';
import type { FloodResult } from './scenarios/consistent-flood';
import type { WatchResult } from './scenarios/watch';
import type { RedisClusterResult } from './scenarios/redis-cluster';
import type { EvictionResult } from './scenarios/eviction-throughput';
import type { EventFormatResult } from './scenarios/event-format';
import type { BulkDrainResult } from './scenarios/bulk-drain';
import type { IncidentResult } from './scenarios/incident-replay/result';
import type { LagResult } from './scenarios/invalidation-lag';
import type { MemoryResult } from './scenarios/memory';
import type { ReadPathResult } from './scenarios/read-path';
import type { ColdStartResult } from './scenarios/cold-start';
import type { NotFoundResult } from './scenarios/not-found';
import type { L1CoherenceResult } from './scenarios/l1-coherence';

/** Everything one run measured: results.json, and what the report is rendered from. */
export interface BenchResults {
  runId: string;
  mode: 'full' | 'quick';
  startedAt: string;
  finishedAt: string;
  durationSeconds: number;
  machine: MachineInfo;
  versions: Versions;
  sizes: BenchSizes;
  readPath?: ReadPathResult;
  coldStart?: ColdStartResult;
  notFound?: NotFoundResult;
  l1Coherence?: L1CoherenceResult;
  invalidationLag?: LagResult;
  evictionThroughput?: EvictionResult;
  eventFormat?: EventFormatResult;
  bulkDrain?: BulkDrainResult;
  incidentReplay?: IncidentResult;
  memory?: MemoryResult;
  consistentFlood?: FloodResult;
  watch?: WatchResult;
  redisCluster?: RedisClusterResult;
  /** Scenarios that failed twice, with the message (the others still ran). */
  errors: Array<{ scenario: ScenarioName; message: string }>;
  /** Scenarios repeated because the first attempt failed or was disturbed. */
  retries: Array<{ scenario: ScenarioName; message: string }>;
}

/** Where each scenario's result lives in BenchResults (and in its own `<scenario>.json`). */
export const RESULT_KEYS = {
  'read-path': 'readPath',
  'cold-start': 'coldStart',
  'not-found': 'notFound',
  'l1-coherence': 'l1Coherence',
  'invalidation-lag': 'invalidationLag',
  'eviction-throughput': 'evictionThroughput',
  'event-format': 'eventFormat',
  'bulk-drain': 'bulkDrain',
  'incident-replay': 'incidentReplay',
  memory: 'memory',
  'consistent-flood': 'consistentFlood',
  watch: 'watch',
  'redis-cluster': 'redisCluster',
} as const satisfies Record<ScenarioName, keyof BenchResults>;
