import { fmtBound, fmtJudged, fmtP99, fmtRatio, fmtRatioJudged, fmtSpread, sigDecimals, targetVerdict, verdict, verdictOfAll, type Target } from '../../src/report/format';

describe('a value near its target is printed with enough digits to show its side', () => {
  it('writes 0.89964 against 0.90 as ×0.8996, and judges it missed', () => {
    expect(fmtRatio(0.89964, 0.9)).toBe('×0.8996');
    expect(verdict(0.89964, { op: '≥', bound: 0.9 })).toBe('missed');
    expect(fmtRatioJudged(0.89964, { op: '≥', bound: 0.9 })).toBe('×0.8996 (target ≥ ×0.90: missed)');
  });

  it('writes the near-cache-off median 0.74986 against 0.75 as ×0.7499, missed', () => {
    expect(fmtRatioJudged(0.74986, { op: '≥', bound: 0.75 }, 'rounds ×0.587–×1.00')).toBe('×0.7499 (target ≥ ×0.75: missed; rounds ×0.587–×1.00)');
  });

  it('adds no digit when the rounded value already shows the side, and judges a value on the line met', () => {
    expect(fmtRatio(0.8873, 0.9)).toBe('×0.887');
    expect(fmtRatio(1.44, 1.3)).toBe('×1.44');
    expect(fmtRatio(0.90004, 0.9)).toBe('×0.90004');
    expect(fmtRatioJudged(0.9, { op: '≥', bound: 0.9 })).toBe('×0.900 (target ≥ ×0.90: met)');
    expect(verdict(Number.NaN, { op: '≤', bound: 1.3 })).toBe('n/a');
  });
});

describe('a p99 carries its sample count', () => {
  it('says "max of N" under 100 samples, where a nearest-rank p99 is the slowest one', () => {
    expect(fmtP99({ count: 68, p99: 8.345 })).toBe('8.35 ms (max of 68)');
    expect(fmtP99({ count: 248, p99: 9.24 })).toBe('9.24 ms (n=248)');
    expect(fmtP99({ count: 0, p99: Number.NaN })).toBe('n/a (no sample)');
  });
});

describe('fmtSpread', () => {
  it('puts the rounds range beside the median, and nothing when the rounds agree as printed', () => {
    expect(fmtSpread({ n: 2, median: 1455.5, min: 806, max: 2105 }, (v) => String(Math.round(v)))).toBe('1456 (806–2105)');
    expect(fmtSpread({ n: 2, median: 0.5252, min: 0.5251, max: 0.5254 }, (v) => v.toFixed(2))).toBe('0.53');
  });
});

describe('ratios are written with 3 significant digits, whatever their size', () => {
  it('gives ×10.1 and ×47.6 a decimal, ×0.887 three, ×123 none', () => {
    expect(fmtRatio(10.1)).toBe('×10.1');
    expect(fmtRatio(10)).toBe('×10.0');
    expect(fmtRatio(47.63)).toBe('×47.6');
    expect(fmtRatio(0.8873)).toBe('×0.887');
    expect(fmtRatio(0.01234)).toBe('×0.0123');
    expect(fmtRatio(123.4)).toBe('×123');
  });

  it('drops a decimal when rounding carries into a new digit', () => {
    expect(sigDecimals(9.996)).toBe(1);
    expect(fmtRatio(9.996)).toBe('×10.0');
    expect(fmtRatio(0.9996)).toBe('×1.00');
  });
});

describe('the target verdict helper', () => {
  const lag: Target = { op: '≤', bound: 200, unit: 'ms' };
  const bulk: Target = { op: '≤', bound: 4, unit: 's' };
  const eviction: Target = { op: '≥', bound: 0.2 };

  it('words every verdict the same way, in the target\'s unit', () => {
    expect(targetVerdict(lag, 'met')).toBe('target ≤ 200 ms: met');
    expect(targetVerdict(bulk, 'missed')).toBe('target ≤ 4 s: missed');
    expect(targetVerdict(eviction, 'missed', 'both')).toBe('target ≥ ×0.20, both: missed');
    expect(fmtBound(eviction)).toBe('×0.20');
  });

  it('judges a latency, a duration and a ratio on their unrounded values', () => {
    expect(fmtJudged(115, lag)).toBe('115 ms (target ≤ 200 ms: met)');
    expect(fmtJudged(200.4, lag)).toBe('200.4 ms (target ≤ 200 ms: missed)');
    expect(fmtJudged(4.76, bulk, 'rounds 4.2–5.25 s')).toBe('4.76 s (target ≤ 4 s: missed; rounds 4.2–5.25 s)');
    expect(fmtJudged(0.121, eviction)).toBe('×0.121 (target ≥ ×0.20: missed)');
    expect(fmtJudged(Number.NaN, lag)).toBe('n/a (target ≤ 200 ms: n/a)');
  });

  it('meets a target with several values only if every one meets it', () => {
    const t: Target = { op: '≥', bound: 0.9 };
    expect(verdictOfAll([0.991, 0.859], t)).toBe('missed');
    expect(verdictOfAll([0.95, 0.9], t)).toBe('met');
    expect(verdictOfAll([0.95, Number.NaN], t)).toBe('n/a');
    expect(verdictOfAll([], t)).toBe('n/a');
  });
});
