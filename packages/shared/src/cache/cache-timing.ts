/**
 * Time rules shared by the filler and the evictor. A marker must outlive every fill that
 * could have read the database before the change it fences; readers therefore drop any fill
 * whose database read started more than half a marker lifetime ago.
 */
export interface CacheTiming {
  /** Entry TTL: a safety net against a lost eviction, never the freshness mechanism. */
  entryTtlMs: number;
  /** Random extra TTL up to this fraction, so entries filled together do not expire together. */
  entryTtlJitter: number;
  /** Eviction marker TTL. */
  markerTtlMs: number;
}

export const defaultCacheTiming: CacheTiming = {
  entryTtlMs: 6 * 60 * 60 * 1000,
  entryTtlJitter: 0.1,
  markerTtlMs: 10 * 60 * 1000,
};

export function maxFillAgeMs(timing: CacheTiming): number {
  return Math.floor(timing.markerTtlMs / 2);
}

export function jitteredTtlMs(timing: CacheTiming, random: () => number = Math.random): number {
  return Math.round(timing.entryTtlMs * (1 + timing.entryTtlJitter * random()));
}
