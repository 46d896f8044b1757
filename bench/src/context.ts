import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { localStack } from '@settings/shared';
import { repoRoot, runId as newRunId } from '@settings/local-stack';

export const benchDir = join(repoRoot, 'bench');

/**
 * The benchmark's own Redis logical database. Everything the benchmark caches (the services it
 * starts, the baselines, redis-benchmark) lives here, never in db 0 where other engineers' tests
 * and `npm start` keep their entries; only the benchmark's own key prefixes are ever deleted.
 */
export const BENCH_REDIS_DB = 7;
export const benchRedisUrl = `redis://127.0.0.1:${localStack.redisPort}/${BENCH_REDIS_DB}`;

export type ScenarioName = 'read-path' | 'invalidation-lag' | 'incident-replay' | 'eviction-throughput' | 'memory';
export const ALL_SCENARIOS: readonly ScenarioName[] = ['read-path', 'invalidation-lag', 'eviction-throughput', 'incident-replay', 'memory'];

/** Sizes of one run. Quick mode is a smoke run of a few seconds per scenario. */
export interface BenchSizes {
  readPath: { rounds: number; saturateSeconds: number; latencySeconds: number; clients: number; streams: number; warmupSeconds: number };
  lag: { rounds: number; rates: number[]; seconds: number; accounts: number };
  incident: {
    rounds: number;
    accounts: number;
    readsPerSecond: number;
    warmSeconds: number;
    burstSeconds: number;
    tailSeconds: number;
    normalSavesPerSecond: number;
    burstSavesPerSecond: number;
    quiesceSeconds: number;
    zipfS: number;
    ttlSeconds: number;
  };
  eviction: { rounds: number; rows: number; redisBenchmarkRequests: number };
  memory: { soakSeconds: number; readRps: number; writesPerSecond: number };
}

export const FULL_SIZES: BenchSizes = {
  readPath: { rounds: 5, saturateSeconds: 3, latencySeconds: 3, clients: 4, streams: 16, warmupSeconds: 1 },
  lag: { rounds: 2, rates: [100, 1000], seconds: 12, accounts: 2000 },
  incident: {
    rounds: 2,
    accounts: 100_000,
    readsPerSecond: 500,
    warmSeconds: 12,
    burstSeconds: 15,
    tailSeconds: 5,
    normalSavesPerSecond: 5,
    burstSavesPerSecond: 100,
    quiesceSeconds: 10,
    zipfS: 1.1,
    ttlSeconds: 300,
  },
  eviction: { rounds: 3, rows: 100_000, redisBenchmarkRequests: 200_000 },
  memory: { soakSeconds: 600, readRps: 400, writesPerSecond: 50 },
};

export const QUICK_SIZES: BenchSizes = {
  readPath: { rounds: 1, saturateSeconds: 2, latencySeconds: 2, clients: 2, streams: 8, warmupSeconds: 1 },
  lag: { rounds: 1, rates: [100, 1000], seconds: 3, accounts: 500 },
  incident: { ...FULL_SIZES.incident, rounds: 1, accounts: 5_000, readsPerSecond: 300, warmSeconds: 4, burstSeconds: 4, tailSeconds: 2, burstSavesPerSecond: 50, quiesceSeconds: 4 },
  eviction: { rounds: 1, rows: 10_000, redisBenchmarkRequests: 50_000 },
  memory: { soakSeconds: 20, readRps: 200, writesPerSecond: 20 },
};

export interface BenchContext {
  readonly runId: string;
  readonly quick: boolean;
  readonly sizes: BenchSizes;
  /** Prefix of every id this run creates (accounts, consumer groups): `bench-<runid>`. */
  readonly prefix: string;
  /** Raw, git-ignored output of this run (logs, h2load request logs). */
  readonly rawDir: string;
  log(msg: string): void;
}

export function createContext(opts: { quick: boolean; rawRoot?: string; log?: (msg: string) => void; sizes?: BenchSizes }): BenchContext {
  // Lower-case hex keeps ids valid for ^[a-z0-9][a-z0-9_-]{0,62}$.
  const runId = newRunId();
  const rawDir = join(opts.rawRoot ?? join(benchDir, 'results', 'raw'), runId);
  mkdirSync(rawDir, { recursive: true });
  const started = Date.now();
  const log =
    opts.log ??
    ((msg: string) => {
      const s = ((Date.now() - started) / 1000).toFixed(1).padStart(6);
      process.stderr.write(`[bench ${s}s] ${msg}\n`);
    });
  return { runId, quick: opts.quick, sizes: opts.sizes ?? (opts.quick ? QUICK_SIZES : FULL_SIZES), prefix: `bench-${runId}`, rawDir, log };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
