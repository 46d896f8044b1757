import { aggregateDeep, type LeafAggregate } from '../../stats';
import { INCIDENT_VARIANTS, type VariantResult } from './result';

/**
 * How one number of a variant's result combines over its rounds: a maximum (a latency summary's
 * `max`, a stale read's `maxAgeMs`, a peak rate or CPU) is the maximum over the rounds — the
 * median of two maxima is their mean, which no round reached; the round number is the first
 * run's (whose timeline is kept); everything else (counts, shares, p99s, means) is the median,
 * which the report shows beside the rounds' range (report/sections/incident-replay.ts).
 */
export function leafAggregate(path: readonly string[]): LeafAggregate {
  const key = path[path.length - 1] ?? '';
  if (path.length === 1 && key === 'round') return 'first';
  if (/^max/.test(key) || /^peak|Peak/.test(key)) return 'max';
  return 'median';
}

/** One variant over its rounds (in the order they ran): see leafAggregate; arrays (the timeline) are the first run's. */
export function aggregateVariantRounds(runs: readonly VariantResult[]): VariantResult {
  return aggregateDeep(runs, leafAggregate);
}

/** Every variant that ran, in INCIDENT_VARIANTS order, over its rounds (IncidentResult.byVariant). */
export function aggregateByVariant(variants: readonly VariantResult[]): VariantResult[] {
  return INCIDENT_VARIANTS.map((k) => variants.filter((v) => v.variant === k))
    .filter((rs) => rs.length > 0)
    .map((rs) => aggregateVariantRounds(rs));
}
