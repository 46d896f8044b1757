import { median, summarize, type LatencySummary } from '../stats';

/**
 * The bulk drain's result shape (results.json, the report) and what is derived from its rounds,
 * pure: the scenario (bulk-drain.ts) derives it after measuring, render.ts again from a stored
 * results.json, so a corrected derivation applies to old runs too.
 */

/** A cached read's deadline in the bulk drain; a read that timed out counts at it. */
export const BULK_READ_DEADLINE_MS = 2000;

/** CPU per changed row, µs, by process (see BulkDrainRound.cpuMicrosPerRow). */
export interface CpuMicrosPerRow {
  connect: number;
  invalidator: number;
  postgres: number;
  /**
   * The settings service beyond what its reads cost before the commit (its CPU rate over the
   * baseline seconds, subtracted), commit → last key evicted: the near-cache's share of the
   * change — a Redis tracking push per evicted key (BCAST on the cache's prefixes). Absent in
   * results from before it was measured.
   */
  service?: number;
}

/** Reads of one window that failed: all of them, and those that hit the deadline (counted in the latencies at it). */
export interface ReadFailures {
  errors: number;
  timeouts: number;
}

export interface BulkDrainRound {
  /**
   * 0: the warm-up round, reported but not in the medians. Kafka Connect compiles its
   * change-event path as it runs it (JIT): on a freshly started worker the first 100k events
   * cost it 1.7-3.5x the CPU of later ones (deploy/debezium/README.md), and a production worker
   * runs for days.
   */
  round: number;
  /**
   * Autogroup nice of the CDC pipeline (PostgreSQL, Kafka, Kafka Connect, the invalidator) in
   * this round: 0 = every process group weighs the same (the headline medians); 10 = the
   * pipeline yields the cores to the serving path (autogroup-weights.ts), in alternate rounds.
   */
  cdcNice: number;
  /** UPDATE statement returned → its last change event is in Kafka (end offsets moved by `rows`). */
  commitToPublishedSeconds: number;
  /** UPDATE returned → the invalidator has applied `rows` more keys. */
  commitToLastEvictedSeconds: number;
  debeziumEventsPerSecond: number;
  /** Keys applied per second from the invalidator's first to its last key of the bulk. */
  invalidatorKeysPerSecond: number;
  /** Lowest adaptive ceiling the invalidator reported during the drain (keys/s). */
  minCeilingKeysPerSecond: number;
  /** Bulk keys not fenced at their row's new version at the end (must be 0). */
  notEvicted: number;
  /** Latencies of the reads that ended in the window: OK ones, and timed-out ones at the deadline. */
  baselineReadMs: LatencySummary;
  drainReadMs: LatencySummary;
  /**
   * Reads from the last event in Kafka to the last key evicted: the invalidator alone works then
   * (Debezium, Kafka and the UPDATE's own load are over), so this window shows what evictions
   * cost readers, apart from the bulk change's load on the machine.
   */
  invalidatorOnlyReadMs: LatencySummary;
  /** Failed reads per window (absent in results from before they were counted: failed reads were left out then). */
  readFailures?: { baseline: ReadFailures; drain: ReadFailures; invalidatorOnly: ReadFailures };
  /**
   * CPU per changed row, µs (user + system, all threads, from /proc): Kafka Connect from the
   * commit to the last event in Kafka, the invalidator from the commit to the last key evicted,
   * the stack's PostgreSQL (the UPDATE itself, then the walsender decoding it) from the UPDATE's
   * start to the last event in Kafka. Less noisy than the rates on a shared machine: a process
   * waiting for a core costs time, not CPU.
   */
  cpuMicrosPerRow: CpuMicrosPerRow;
}

export interface BulkDrainResult {
  rows: number;
  hotAccounts: number;
  readsPerSecond: number;
  /** The invalidator runs with its defaults: adaptive ceiling up to this hard maximum. */
  invalidatorMaxKeysPerSecond: number;
  rounds: BulkDrainRound[];
  /** Rounds with every process group at the same weight. */
  median: BulkDrainMedians;
  /**
   * Rounds in which the CDC pipeline yielded the cores (autogroup nice `cdcNice`), alternating
   * with the others; absent when the bench may not change the groups' nice (not root).
   */
  medianCdcYields?: BulkDrainMedians & { cdcNice: number };
}

/**
 * Medians over rounds, each taken on its own: two of them side by side may come from different
 * rounds (the report says which round a pair comes from).
 */
export interface BulkDrainMedians {
  commitToLastEvictedSeconds: number;
  commitToPublishedSeconds: number;
  debeziumEventsPerSecond: number;
  invalidatorKeysPerSecond: number;
  baselineReadP99Ms: number;
  drainReadP99Ms: number;
  /** Median of the per-round ratios drain p99 ÷ baseline p99 (not a ratio of the two medians). */
  readP99Ratio: number;
  invalidatorOnlyReadP99Ms: number;
  cpuMicrosPerRow: CpuMicrosPerRow;
}

/** One cached read of the bulk drain: when it ended, how long it took, how it ended. */
export interface BulkRead {
  at: number;
  ms: number;
  ok: boolean;
  timeout: boolean;
}

/**
 * The reads that ended in [from, to]: latencies of the OK ones and of the timed-out ones at the
 * deadline (a read that never answered is the slowest, not a missing sample), and the failures.
 */
export function readWindow(reads: readonly BulkRead[], from: number, to: number): { latency: LatencySummary; failures: ReadFailures } {
  const inWindow = reads.filter((r) => r.at >= from && r.at <= to);
  return {
    latency: summarize(inWindow.filter((r) => r.ok || r.timeout).map((r) => (r.timeout ? BULK_READ_DEADLINE_MS : r.ms))),
    failures: { errors: inWindow.filter((r) => !r.ok).length, timeouts: inWindow.filter((r) => r.timeout).length },
  };
}

/** Each round's drain read p99 ÷ baseline read p99. */
export const readP99RatioOf = (r: Pick<BulkDrainRound, 'baselineReadMs' | 'drainReadMs'>): number =>
  r.baselineReadMs.p99 > 0 && Number.isFinite(r.drainReadMs.p99) ? r.drainReadMs.p99 / r.baselineReadMs.p99 : Number.NaN;

/** The measured rounds of one weighting: equal weights (cdcNice 0) or the CDC pipeline yielding (cdcNice > 0); never the warm-up round 0. */
export const measuredRounds = (rounds: readonly BulkDrainRound[], cdcYields: boolean): BulkDrainRound[] => rounds.filter((r) => r.round > 0 && (cdcYields ? r.cdcNice > 0 : !(r.cdcNice > 0)));

export function bulkDrainMedians(rounds: readonly BulkDrainRound[]): BulkDrainMedians {
  const med = (f: (r: BulkDrainRound) => number): number => median(rounds.map(f));
  return {
    commitToLastEvictedSeconds: med((r) => r.commitToLastEvictedSeconds),
    commitToPublishedSeconds: med((r) => r.commitToPublishedSeconds),
    debeziumEventsPerSecond: med((r) => r.debeziumEventsPerSecond),
    invalidatorKeysPerSecond: med((r) => r.invalidatorKeysPerSecond),
    baselineReadP99Ms: med((r) => r.baselineReadMs.p99),
    drainReadP99Ms: med((r) => r.drainReadMs.p99),
    readP99Ratio: med(readP99RatioOf),
    invalidatorOnlyReadP99Ms: med((r) => r.invalidatorOnlyReadMs.p99),
    cpuMicrosPerRow: {
      connect: med((r) => r.cpuMicrosPerRow.connect),
      invalidator: med((r) => r.cpuMicrosPerRow.invalidator),
      postgres: med((r) => r.cpuMicrosPerRow.postgres),
      service: med((r) => r.cpuMicrosPerRow.service ?? Number.NaN),
    },
  };
}

/** The result's medians from its rounds: equal weights, and the CDC-yielding rounds when there are any. */
export function withBulkDrainMedians(b: Omit<BulkDrainResult, 'median' | 'medianCdcYields'> & Partial<Pick<BulkDrainResult, 'median' | 'medianCdcYields'>>): BulkDrainResult {
  const yielded = measuredRounds(b.rounds, true);
  const { median: _median, medianCdcYields: _cdcYields, ...rest } = b;
  return {
    ...rest,
    median: bulkDrainMedians(measuredRounds(b.rounds, false)),
    ...(yielded.length > 0 ? { medianCdcYields: { ...bulkDrainMedians(yielded), cdcNice: yielded[0]!.cdcNice } } : {}),
  };
}
