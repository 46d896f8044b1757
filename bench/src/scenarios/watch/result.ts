import type { LatencySummary } from '../../stats';

/** Goals of issue 13's benchmark bullet. */
export const WATCH_GOALS = { pushP99Ms: 300, idleRssMiB: 300, readsPerKey: 1 } as const;

/** One round of writes at a steady rate, with the same open watchers. */
export interface WatchLatencyRound {
  round: number;
  achievedWritesPerSecond: number;
  writes: number;
  /** (write, watcher of its account) pairs. */
  deliveriesExpected: number;
  /** Pairs where the watcher got exactly that version. */
  deliveriesReceived: number;
  /** Pairs where the watcher skipped that version and got a newer one (non-guarantee 20). */
  coalesced: number;
  /** Pairs where the watcher got neither that version nor a newer one. */
  missed: number;
  /** (account, watcher) pairs whose final version of the round never arrived (must be 0). */
  finalMissing: number;
  /** UPDATE returned → change message received, over every delivered (version, watcher). */
  commitToWatcherMs: LatencySummary;
  /** UPDATE returned → invalidator marker (or a newer fill) seen in Redis, per write. */
  commitToMarkerMs: LatencySummary;
  /** Writes whose marker the poller never saw. */
  notMarked: number;
  /** Mean of the service's settings_watch_push_lag_seconds (Redis push → message written) over the round. */
  serverPushLagMeanMs: number;
  redis: RedisTrouble;
}

/** Commit → watcher receives, at a steady write rate with many open watchers. */
export interface WatchLatencyResult {
  watchers: number;
  accounts: number;
  watchersPerAccount: number;
  targetWritesPerSecond: number;
  roundSeconds: number;
  rounds: WatchLatencyRound[];
  /** Medians over rounds of each percentile; commitToWatcher.max is the highest over rounds, not a median. */
  median: {
    commitToWatcher: { p50: number; p95: number; p99: number; max: number };
    commitToMarker: { p50: number; p95: number; p99: number };
    achievedWritesPerSecond: number;
    serverPushLagMeanMs: number;
  };
  /** Sums over rounds. */
  totals: { deliveriesExpected: number; deliveriesReceived: number; coalesced: number; missed: number; finalMissing: number; fallbackReads: number; loadShed: number };
  /** Median p99 within the goal, nothing missed, every final version delivered. */
  pass: boolean;
}

/**
 * Signs that the replica's Redis path gave way during a phase (deltas of its own counters): reads
 * whose Redis lookup failed or met an open circuit breaker (they fall back to PostgreSQL, without
 * a fill), and of those the ones refused because the fallback was at its limit. Either one means
 * PostgreSQL reads beyond one per key, keys left cold, or retries.
 */
export interface RedisTrouble {
  /** settings_cache_fallback_total delta. */
  fallbackReads: number;
  /** settings_load_shed_total delta. */
  loadShed: number;
}

export function redisTrouble(before: ReadonlyMap<string, number>, after: ReadonlyMap<string, number>): RedisTrouble {
  const delta = (name: string): number => (after.get(name) ?? 0) - (before.get(name) ?? 0);
  return { fallbackReads: delta('settings_cache_fallback_total'), loadShed: delta('settings_load_shed_total') };
}

/** RSS of one fresh replica before and while it holds many idle watchers. */
export interface WatchMemoryResult {
  watchers: number;
  distinctKeys: number;
  rssBeforeMiB: number;
  /** After every stream had its first state and `settleSeconds` more. */
  rssAfterMiB: number;
  rssMaxMiB: number;
  /** V8 heap in use (settings_process_nodejs_heap_size_used_bytes) at the same two moments. */
  heapUsedBeforeMiB: number;
  heapUsedAfterMiB: number;
  perWatcherKiB: number;
  settleSeconds: number;
  openSeconds: number;
  failedStreams: Record<string, number>;
  /** settings_watch_streams while open, and a few seconds after the harness closed them all (should be 0). */
  streamsOpen: number;
  streamsAfterClose: number;
  redis: RedisTrouble;
  pass: boolean;
}

/** Many streams opening at once against a fresh replica (empty near-cache). */
export interface WatchStormResult {
  /** cold: new streams on keys nobody read (cold in Redis too); resume: the same streams reconnecting with their resume tokens after the replica was replaced. */
  variant: 'cold' | 'resume';
  watchers: number;
  distinctKeys: number;
  /** settings_db_keys_read_total{kind="account_settings.read"} delta on the replica (keys read). */
  postgresReads: number;
  readsPerKey: number;
  /** settings_db_queries_total delta over every kind. */
  allQueries: number;
  /** Opening the first stream → the last stream had its first state (or bookmark). */
  secondsToAllReady: number;
  failedStreams: Record<string, number>;
  timedOut: number;
  redis: RedisTrouble;
  pass: boolean;
}

export interface WatchResult {
  /** Stream limits the replicas ran with (every insecure-dev stream is the one caller `dev`). */
  limits: { maxStreams: number; maxStreamsPerCaller: number; streamsPerConnection: number };
  progressIntervalMs: number;
  latency: WatchLatencyResult;
  /** One key per watcher (the most a watcher costs), then ten watchers per key; each on a fresh replica. */
  memory: WatchMemoryResult[];
  storms: WatchStormResult[];
}
