import { CallerRate } from '../../src/admission/caller-rate';

describe('CallerRate (token bucket per caller)', () => {
  it('allows a burst, then refills at the rate, per caller', () => {
    let now = 0;
    const rate = new CallerRate({ perSecond: 10, burst: 3 }, () => now);
    for (let i = 0; i < 3; i++) {
      expect(rate.allows('a')).toBe(true);
      rate.take('a');
    }
    expect(rate.allows('a')).toBe(false);
    // Another caller has its own bucket.
    expect(rate.allows('b')).toBe(true);
    now += 99;
    expect(rate.allows('a')).toBe(false);
    now += 1; // 100 ms at 10/s: one token
    expect(rate.allows('a')).toBe(true);
    rate.take('a');
    expect(rate.allows('a')).toBe(false);
    // Idle for long: back to the burst, never more.
    now += 60_000;
    for (let i = 0; i < 3; i++) rate.take('a');
    expect(rate.allows('a')).toBe(false);
  });

  it('a debt (reads allowed, then granted after waiting) is paid back before the next read', () => {
    let now = 0;
    const rate = new CallerRate({ perSecond: 10, burst: 1 }, () => now);
    rate.take('a');
    rate.take('a'); // -1
    now += 100;
    expect(rate.allows('a')).toBe(false);
    now += 100;
    expect(rate.allows('a')).toBe(true);
  });

  it('a wall clock stepped back refills from the new time on, instead of freezing the bucket for the step', () => {
    let now = 1_000_000;
    const rate = new CallerRate({ perSecond: 10, burst: 1 }, () => now);
    rate.take('a');
    expect(rate.allows('a')).toBe(false);
    now -= 3_600_000; // an hour back
    expect(rate.allows('a')).toBe(false);
    now += 100; // 100 ms at 10/s after the step: one token
    expect(rate.allows('a')).toBe(true);
  });

  it('perSecond 0 is no rate at all', () => {
    const rate = new CallerRate({ perSecond: 0, burst: 1 });
    for (let i = 0; i < 1000; i++) rate.take('a');
    expect(rate.allows('a')).toBe(true);
  });
});
