import type { Target } from './format';

/**
 * Every target the report judges a result against, in one place (the verdict text is
 * format.ts targetVerdict / fmtJudged). Each is judged on the unrounded value the report names
 * beside it; the read path's on two values at once (sections/read-path.ts judgeReadTarget).
 */

/** Section 1: settings service ÷ empty handler; met only if both the median of per-round ratios and the ratio of medians meet it. */
export const READ_PATH_TARGETS = {
  cachedRps: { op: '≥', bound: 0.9 },
  cachedSingleP99: { op: '≤', bound: 1.3 },
  cachedL1OffRps: { op: '≥', bound: 0.75 },
} as const satisfies Record<string, Target>;

/** Section 2: invalidation lag commit → evicted, p99 (median of the rounds' p99s) by write rate. */
export const LAG_P99_TARGETS: Readonly<Record<number, Target>> = {
  100: { op: '≤', bound: 150, unit: 'ms' },
  1000: { op: '≤', bound: 200, unit: 'ms' },
};

/** The lag target of a write rate, if it has one. */
export const lagP99Target = (writesPerSecond: number): Target | undefined => LAG_P99_TARGETS[writesPerSecond];

/** Section 4: one invalidator with the ceiling off ÷ redis-benchmark SET (median of per-round ratios). */
export const EVICTION_RATIO_TARGET: Target = { op: '≥', bound: 0.2 };

/** Bulk change: commit → last key evicted (median of rounds), and cached-read p99 during the drain ÷ baseline (median of per-round ratios). */
export const BULK_TARGETS = {
  commitToLastEvictedSeconds: { op: '≤', bound: 4, unit: 's' },
  readP99Ratio: { op: '≤', bound: 2 },
} as const satisfies Record<string, Target>;

/** Section 3, this system: read p99 and free-save p99 in the burst ÷ pre-burst (median of per-round ratios). */
export const INCIDENT_BURST_TARGETS = {
  readP99Ratio: { op: '≤', bound: 2 },
  freeSaveP99Ratio: { op: '≤', bound: 2 },
} as const satisfies Record<string, Target>;
