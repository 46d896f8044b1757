import type { BenchSizes, ScenarioName } from './context';
import type { MachineInfo, Versions } from './machine';
import type { EvictionResult } from './scenarios/eviction-throughput';
import type { IncidentResult } from './scenarios/incident-replay/result';
import type { LagResult } from './scenarios/invalidation-lag';
import type { MemoryResult } from './scenarios/memory';
import type { ReadPathResult } from './scenarios/read-path';

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
  invalidationLag?: LagResult;
  evictionThroughput?: EvictionResult;
  incidentReplay?: IncidentResult;
  memory?: MemoryResult;
  /** Scenarios that failed twice, with the message (the others still ran). */
  errors: Array<{ scenario: ScenarioName; message: string }>;
  /** Scenarios repeated because the first attempt failed or was disturbed. */
  retries: Array<{ scenario: ScenarioName; message: string }>;
}

/** Where each scenario's result lives in BenchResults (and in its own `<scenario>.json`). */
export const RESULT_KEYS = {
  'read-path': 'readPath',
  'invalidation-lag': 'invalidationLag',
  'eviction-throughput': 'evictionThroughput',
  'incident-replay': 'incidentReplay',
  memory: 'memory',
} as const satisfies Record<ScenarioName, keyof BenchResults>;
