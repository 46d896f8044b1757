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

export type ScenarioName = 'read-path' | 'cold-start' | 'not-found' | 'l1-coherence' | 'invalidation-lag' | 'incident-replay' | 'eviction-throughput' | 'event-format' | 'bulk-drain' | 'memory' | 'consistent-flood' | 'watch' | 'redis-cluster';
export const ALL_SCENARIOS: readonly ScenarioName[] = ['read-path', 'cold-start', 'not-found', 'l1-coherence', 'invalidation-lag', 'eviction-throughput', 'event-format', 'bulk-drain', 'incident-replay', 'consistent-flood', 'watch', 'redis-cluster', 'memory'];

/** Sizes of one run. Quick mode is a smoke run of a few seconds per scenario. */
export interface BenchSizes {
  readPath: {
    rounds: number;
    saturateSeconds: number;
    latencySeconds: number;
    clients: number;
    streams: number;
    warmupSeconds: number;
    /** CPU per request: paced (one stream, open loop) at this rate for this long, against a counted saturated run. */
    cpu: { pacedRps: number; pacedSeconds: number; saturatedRequests: number };
  };
  lag: { rounds: number; rates: number[]; seconds: number; accounts: number; warmupSeconds: number };
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
  /** `replicas`: the side-by-side drain by that many invalidators (1: none). */
  eviction: { rounds: number; rows: number; redisBenchmarkRequests: number; replicas: number };
  /** The change events' format, lean against nested, published and drained side by side (scenarios/event-format.ts). */
  eventFormat: { rounds: number; rows: number };
  /** One bulk UPDATE drained end to end with the default configuration (scenarios/bulk-drain.ts). */
  bulkDrain: { rounds: number; rows: number; hotAccounts: number; readsPerSecond: number; baselineSeconds: number };
  memory: { soakSeconds: number; readRps: number; writesPerSecond: number };
  /** One caller's fully_consistent flood against another caller's traffic (scenarios/consistent-flood.ts). */
  flood: { rounds: number; phaseSeconds: number; victimReadsPerSecond: number; victimSavesPerSecond: number; floodStreams: number };
  /** Watch streams (scenarios/watch.ts): push latency under writes, RSS with idle watchers, reconnect storms. */
  watch: {
    latencyWatchers: number;
    latencyAccounts: number;
    writesPerSecond: number;
    /** Rounds of `writeSeconds` each, with the same open watchers; the report takes medians over rounds. */
    latencyRounds: number;
    writeSeconds: number;
    /** Idle streams: each on its own account, then over `idleSharedKeys` accounts. */
    idleWatchers: number;
    idleSharedKeys: number;
    stormWatchers: number;
    stormKeys: number;
    streamsPerChannel: number;
    settleSeconds: number;
  };
  /**
   * The three-master Redis Cluster against the single Redis (scenarios/redis-cluster.ts): saturated
   * cached reads per target, and one backlog of `events` change events drained by an invalidator
   * on each, interleaved over `rounds`.
   */
  cluster: { rounds: number; saturateSeconds: number; warmupSeconds: number; clients: number; streams: number; events: number };
}

export const FULL_SIZES: BenchSizes = {
  readPath: { rounds: 6, saturateSeconds: 3, latencySeconds: 3, clients: 4, streams: 16, warmupSeconds: 1, cpu: { pacedRps: 300, pacedSeconds: 5, saturatedRequests: 20_000 } },
  lag: { rounds: 2, rates: [100, 1000], seconds: 12, accounts: 2000, warmupSeconds: 6 },
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
  eviction: { rounds: 3, rows: 100_000, redisBenchmarkRequests: 200_000, replicas: 3 },
  eventFormat: { rounds: 3, rows: 100_000 },
  bulkDrain: { rounds: 3, rows: 100_000, hotAccounts: 2000, readsPerSecond: 300, baselineSeconds: 5 },
  memory: { soakSeconds: 600, readRps: 400, writesPerSecond: 50 },
  flood: { rounds: 4, phaseSeconds: 8, victimReadsPerSecond: 50, victimSavesPerSecond: 20, floodStreams: 64 },
  watch: { latencyWatchers: 1000, latencyAccounts: 200, writesPerSecond: 100, latencyRounds: 3, writeSeconds: 10, idleWatchers: 10_000, idleSharedKeys: 1000, stormWatchers: 10_000, stormKeys: 1000, streamsPerChannel: 100, settleSeconds: 5 },
  cluster: { rounds: 3, saturateSeconds: 3, warmupSeconds: 1, clients: 4, streams: 16, events: 30_000 },
};

export const QUICK_SIZES: BenchSizes = {
  readPath: { rounds: 1, saturateSeconds: 2, latencySeconds: 2, clients: 2, streams: 8, warmupSeconds: 1, cpu: { pacedRps: 300, pacedSeconds: 2, saturatedRequests: 5000 } },
  lag: { rounds: 1, rates: [100, 1000], seconds: 3, accounts: 500, warmupSeconds: 1 },
  incident: { ...FULL_SIZES.incident, rounds: 1, accounts: 5_000, readsPerSecond: 300, warmSeconds: 4, burstSeconds: 4, tailSeconds: 2, burstSavesPerSecond: 50, quiesceSeconds: 4 },
  eviction: { rounds: 1, rows: 10_000, redisBenchmarkRequests: 50_000, replicas: 2 },
  eventFormat: { rounds: 1, rows: 2_000 },
  bulkDrain: { rounds: 1, rows: 10_000, hotAccounts: 500, readsPerSecond: 200, baselineSeconds: 2 },
  memory: { soakSeconds: 20, readRps: 200, writesPerSecond: 20 },
  flood: { rounds: 1, phaseSeconds: 3, victimReadsPerSecond: 50, victimSavesPerSecond: 20, floodStreams: 64 },
  watch: { latencyWatchers: 100, latencyAccounts: 20, writesPerSecond: 20, latencyRounds: 1, writeSeconds: 3, idleWatchers: 500, idleSharedKeys: 50, stormWatchers: 500, stormKeys: 50, streamsPerChannel: 100, settleSeconds: 1 },
  cluster: { rounds: 1, saturateSeconds: 1, warmupSeconds: 1, clients: 2, streams: 8, events: 2_000 },
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
