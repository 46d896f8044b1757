import { aggregateByVariant, leafAggregate } from '../../src/scenarios/incident-replay/aggregate';
import type { VariantResult } from '../../src/scenarios/incident-replay/result';

/** Just the numbers the aggregate is about; the rest of a VariantResult is combined the same way. */
const run = (round: number, stale: number, fromSavesMax: number, readP99: number, peak: number, latMax: number): VariantResult =>
  ({
    variant: 'this-system',
    label: '(c) this system',
    round,
    stale: { reads: stale, share: 0.1, maxAgeMs: fromSavesMax, p99AgeMs: 100, fromSaves: { reads: stale, maxAgeMs: fromSavesMax }, fromBulk: { reads: 0, maxAgeMs: 0 } },
    reads: { burstLatencyMs: { count: 100, p50: 1, p95: 2, p99: readP99, max: latMax, mean: 1 } },
    postgres: { peakXactsPerSecond: peak, appQueriesPeakPerSecond: peak, backgroundXactsPerSecond: 1, appQueriesTotal: 10 },
    timeline: [{ s: round }],
  }) as unknown as VariantResult;

describe('incident replay over rounds', () => {
  // Two rounds of (c) in run mx8zs76nd781: a median of two is their mean, which no round reached.
  const [c] = aggregateByVariant([run(1, 806, 1056, 2000, 292, 1900), run(2, 2105, 7196, 1713, 235, 1964)]);

  it('takes maxima (max age, peaks, a latency max) as the maximum over rounds', () => {
    expect(c!.stale.fromSaves.maxAgeMs).toBe(7196);
    expect(c!.stale.maxAgeMs).toBe(7196);
    expect(c!.postgres.peakXactsPerSecond).toBe(292);
    expect(c!.postgres.appQueriesPeakPerSecond).toBe(292);
    expect(c!.reads.burstLatencyMs.max).toBe(1964);
  });

  it('takes counts and p99s as the median (the report shows the range beside it), the round and timeline of the first run', () => {
    expect(c!.stale.reads).toBe(1455.5);
    expect(c!.reads.burstLatencyMs.p99).toBe(1856.5);
    expect(c!.stale.p99AgeMs).toBe(100);
    expect(c!.round).toBe(1);
    expect(c!.timeline).toEqual([{ s: 1 }]);
  });

  it('names the maxima by key', () => {
    expect(leafAggregate(['stale', 'fromBulk', 'maxAgeMs'])).toBe('max');
    expect(leafAggregate(['redis', 'peakCpuPercent'])).toBe('max');
    expect(leafAggregate(['redis', 'appCommandsPeakPerSecond'])).toBe('max');
    expect(leafAggregate(['bulkheads', 'lockedSaves', 'abortedLatencyMs', 'p99'])).toBe('median');
    expect(leafAggregate(['writePoolWait', 'longerThanMs'])).toBe('median');
  });
});
