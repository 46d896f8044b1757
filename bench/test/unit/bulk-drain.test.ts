import { bulkDrainMedians, readWindow, withBulkDrainMedians, type BulkDrainResult, type BulkDrainRound } from '../../src/scenarios/bulk-drain-result';
import { summarize } from '../../src/stats';

const lat = (p99: number, count = 1500): BulkDrainRound['baselineReadMs'] => ({ count, p50: 1, p95: p99, p99, max: p99, mean: 1 });
const round = (r: number, cdcNice: number, baselineP99: number, drainP99: number, evicted: number, published: number): BulkDrainRound => ({
  round: r,
  cdcNice,
  commitToPublishedSeconds: published,
  commitToLastEvictedSeconds: evicted,
  debeziumEventsPerSecond: 25_000,
  invalidatorKeysPerSecond: 25_000,
  minCeilingKeysPerSecond: 50_000,
  notEvicted: 0,
  baselineReadMs: lat(baselineP99),
  drainReadMs: lat(drainP99),
  invalidatorOnlyReadMs: lat(8, 68),
  cpuMicrosPerRow: { connect: 35, invalidator: 14, postgres: 26, service: 0 },
});

// The CDC-yielding rounds of run mx8zs76nd781 (bench/results/bulk-drain.json).
const yielding = [round(2, 10, 5.399, 80.77, 4.2, 3.9), round(4, 10, 8.143, 66.384, 5.44, 5.32), round(6, 10, 7.834, 8.132, 4.04, 3.87)];

describe('bulk drain medians', () => {
  it('take the read p99 ratio as the median of the per-round ratios, not median ÷ median', () => {
    // Per round ×14.96, ×8.152, ×1.038; median(drain) ÷ median(baseline) = 66.384 ÷ 7.834 = ×8.47 mixes rounds 4 and 6.
    expect(bulkDrainMedians(yielding).readP99Ratio).toBeCloseTo(66.384 / 8.143, 6);
  });

  it('leave the warm-up round out and split the two weightings', () => {
    const b = withBulkDrainMedians({ rows: 100_000, hotAccounts: 2000, readsPerSecond: 300, invalidatorMaxKeysPerSecond: 50_000, rounds: [round(0, 0, 1, 1000, 9, 9), round(1, 0, 10, 100, 4, 3), ...yielding] } as Omit<BulkDrainResult, 'median'>);
    expect(b.median.readP99Ratio).toBe(10);
    expect(b.medianCdcYields?.cdcNice).toBe(10);
    expect(b.medianCdcYields?.commitToLastEvictedSeconds).toBe(4.2);
  });
});

describe('the reads of a window', () => {
  it('count failed reads, and a timed-out read at its 2 s deadline instead of dropping it', () => {
    const reads = [
      { at: 1000, ms: 5, ok: true, timeout: false },
      { at: 1100, ms: 7, ok: true, timeout: false },
      { at: 1200, ms: 2003.7, ok: false, timeout: true },
      { at: 1300, ms: 1, ok: false, timeout: false },
      { at: 5000, ms: 9, ok: true, timeout: false },
    ];
    const w = readWindow(reads, 1000, 2000);
    expect(w.failures).toEqual({ errors: 2, timeouts: 1 });
    expect(w.latency).toEqual(summarize([5, 7, 2000]));
  });
});
