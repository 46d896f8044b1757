import type { CpuRole } from '../../process-cpu';
import type { LegacyStrategy } from '../../../baselines/legacy-cache';
import type { LatencySummary } from '../../stats';

/** The shape of the incident replay's results: what results.json holds and the report reads. */

export type IncidentVariant = LegacyStrategy | 'this-system' | 'this-system-cdc-yields';
export const INCIDENT_VARIANTS: readonly IncidentVariant[] = ['ttl-only', 'delete-on-write', 'clear-all-on-write', 'this-system', 'this-system-cdc-yields'];
/** The variants that run the settings service and an invalidator (the others a legacy server). */
export const isThisSystem = (v: IncidentVariant): v is 'this-system' | 'this-system-cdc-yields' => v === 'this-system' || v === 'this-system-cdc-yields';
export const INCIDENT_LABELS: Record<IncidentVariant, string> = {
  'ttl-only': '(a) TTL-only cache, 5 min',
  'delete-on-write': '(b) delete-on-write (app code)',
  'clear-all-on-write': '(b′) clear-all-on-write (the hotfix)',
  'this-system': '(c) this system',
  'this-system-cdc-yields': '(c′) this system, CDC pipeline yielding the cores',
};

export interface TimelinePoint {
  /** Seconds since the load started. */
  s: number;
  reads: number;
  readP99Ms: number;
  staleReads: number;
  saveP99Ms: number;
  redisOps: number;
  pgXacts: number;
  /** Worst event-loop delay of the harness in that second (sanity check of the load generator). */
  harnessLoopDelayMs: number;
}

/** Waits for a pool connection in a window: how many, their mean, the share longer than `longerThanMs`. */
export interface PoolWaitSummary {
  waits: number;
  meanMs: number;
  longerThanMs: number;
  longerShare: number;
}

export interface VariantResult {
  variant: IncidentVariant;
  label: string;
  round: number;
  reads: {
    total: number;
    ok: number;
    errors: number;
    timeouts: number;
    shed: number;
    /** Failed reads by gRPC status (`UNAVAILABLE 1040, DEADLINE_EXCEEDED 7`; absent in results from before it was kept). */
    failures?: string;
    latencyMs: LatencySummary;
    burstLatencyMs: LatencySummary;
    burstLatencyOutsideBulkMs: LatencySummary;
  };
  saves: { total: number; ok: number; errors: number; timeouts: number; latencyMs: LatencySummary; burstLatencyMs: LatencySummary; burstLatencyOutsideBulkMs: LatencySummary };
  bulk: { rows: number; statementMs: number; startedAtS: number };
  /**
   * The bulkheads: p99 in the last half of the warm phase (before the burst) against the burst,
   * for reads, for saves to rows the bulk UPDATE does not touch, and the saves that met the
   * bulk's row locks (started while the UPDATE ran): how many, how fast, with which status.
   */
  bulkheads: {
    readP99PreBurstMs: number;
    readP99BurstMs: number;
    freeSaves: { total: number; ok: number; errors: number; timeouts: number; preBurstLatencyMs: LatencySummary; burstLatencyMs: LatencySummary };
    lockedSaves: {
      total: number;
      ok: number;
      aborted: number;
      timeouts: number;
      otherErrors: number;
      latencyMs: LatencySummary;
      /** The ABORTED ones only (absent in results from before it was measured). */
      abortedLatencyMs?: LatencySummary;
    };
  };
  /**
   * This system: its saves' waits for a write connection over the load (absent for the
   * baselines, and in results from before it was measured).
   */
  writePoolWait?: PoolWaitSummary;
  /** fromSaves / fromBulk: split by the kind of the first newer write the read missed. */
  stale: { reads: number; share: number; maxAgeMs: number; p99AgeMs: number; fromSaves: { reads: number; maxAgeMs: number }; fromBulk: { reads: number; maxAgeMs: number } };
  redis: { backgroundOpsPerSecond: number; peakOpsPerSecond: number; peakCpuPercent: number; appCommandsPeakPerSecond: number; appCommandsTotal: number };
  postgres: { backgroundXactsPerSecond: number; peakXactsPerSecond: number; appQueriesPeakPerSecond: number; appQueriesTotal: number };
  cacheHitRatio: number;
  /** Cores used per role (process-cpu.ts), mean over the pre-burst window and over the burst. */
  cpuCores: { preBurst: Record<CpuRole, number>; burst: Record<CpuRole, number> };
  /** Checked quiesceSeconds after the load (longer for this system: until its invalidator caught up). */
  staleKeysAfterQuiescence: { cachedKeys: number; staleKeys: number; quiesceSeconds: number; checkedAfterBulkCommitMs: number };
  timeline: TimelinePoint[];
}

export interface IncidentResult {
  /** (c′): these processes ran at this autogroup nice (absent in results from before it existed). */
  cdcYield?: { nice: number; roles: CpuRole[] };
  accounts: number;
  zipfS: number;
  hottest1000Share: number;
  load: { readsPerSecond: number; normalSavesPerSecond: number; burstSavesPerSecond: number; warmSeconds: number; burstSeconds: number; tailSeconds: number; quiesceSeconds: number };
  payloadBytes: { legacy: number; service: number };
  rounds: number;
  /** Every run, in the order they ran (rounds interleave the four variants). */
  variants: VariantResult[];
  /**
   * Per variant over its rounds (aggregate.ts): maxima (max, max age, peaks) the maximum over
   * the rounds, every other number the median (with 2 rounds, their mean: the report shows each
   * round's value beside it, from `variants`); timeline and round: the variant's first run.
   */
  byVariant: VariantResult[];
}
