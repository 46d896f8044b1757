import { ratioOfMedians, saturatedRps, type ReadRunNumbers } from '../../src/scenarios/read-path-derive';
import { fmtReadJudgement, judgeReadTarget } from '../../src/report/sections/read-path';
import { READ_PATH_TARGETS } from '../../src/report/targets';

/** Saturated req/s of run mxa9ez6g13cb, rounds 1-6: round 1's empty handler ran slow (12.5k against ~20k). */
const CACHED = [16080, 22016, 15227, 23493, 16640, 17872];
const EMPTY = [12491, 20139, 20069, 20875, 19739, 20091];

const runsOf = (cached: readonly number[], empty: readonly number[]): ReadRunNumbers[] => {
  const h = (rps: number) => ({ rps, latencyMs: { p50: 1, p99: 1 } });
  return cached.flatMap((c, i) => [
    { round: i + 1, target: 'cached', saturated: h(c), single: h(1) },
    { round: i + 1, target: 'empty', saturated: h(empty[i]!), single: h(1) },
  ]);
};

describe('a read-path target is met only if both the median of per-round ratios and the ratio of medians meet it', () => {
  const t = READ_PATH_TARGETS.cachedRps;

  it('misses ≥ ×0.90 in the stored run: ×0.991 by the median of ratios, lifted by round 1, but ×0.859 by the ratio of medians', () => {
    const j = judgeReadTarget(runsOf(CACHED, EMPTY), 'cached', saturatedRps, t);
    expect(j.medianOfRatios).toBeCloseTo(0.9914, 4);
    expect(j.ratioOfMedians).toBeCloseTo(0.8594, 4);
    expect(j).toMatchObject({ roundsMet: 3, rounds: 6, verdict: 'missed' });
    expect(fmtReadJudgement(j, t)).toBe('×0.991 median of per-round ratios, ×0.859 ratio of medians, 3 of 6 rounds ≥ ×0.90 (target ≥ ×0.90, both: missed)');
  });

  it('misses when only the ratio of medians meets it, too', () => {
    // Medians 18,000 ÷ 19,750 = ×0.911; the median of the per-round ratios ×0.8905.
    const cached = [18000, 17000, 19000, 18000, 17500, 18500];
    const empty = [20000, 19500, 19500, 21000, 19000, 21000];
    const j = judgeReadTarget(runsOf(cached, empty), 'cached', saturatedRps, t);
    expect(j.ratioOfMedians).toBeGreaterThanOrEqual(0.9);
    expect(j.medianOfRatios).toBeLessThan(0.9);
    expect(j.verdict).toBe('missed');
  });

  it('is met when both meet it, and n/a without rounds', () => {
    const j = judgeReadTarget(runsOf([19000, 19500, 18800], [20000, 20500, 20000]), 'cached', saturatedRps, t);
    expect(j).toMatchObject({ roundsMet: 3, rounds: 3, verdict: 'met' });
    expect(judgeReadTarget([], 'cached', saturatedRps, t).verdict).toBe('n/a');
  });

  it('judges an upper bound the same way (one-stream p99 ≤ ×1.30)', () => {
    const p = (p99: number) => ({ rps: 1, latencyMs: { p50: 1, p99 } });
    const runs = [0.9, 1.4, 1.2].flatMap((c, i) => [
      { round: i + 1, target: 'cached', saturated: p(1), single: p(c) },
      { round: i + 1, target: 'empty', saturated: p(1), single: p(1) },
    ]);
    const j = judgeReadTarget(runs, 'cached', (r) => r.single.latencyMs.p99, READ_PATH_TARGETS.cachedSingleP99);
    expect(j).toMatchObject({ medianOfRatios: 1.2, roundsMet: 2, rounds: 3, verdict: 'met' });
  });

  it('takes the ratio of medians over the rounds that measured both targets', () => {
    const runs = runsOf([10, 20, 30], [10, 10, 10]).filter((r) => !(r.round === 3 && r.target === 'empty'));
    expect(ratioOfMedians(runs, 'cached', 'empty', saturatedRps)).toBeCloseTo(1.5, 6);
  });
});
