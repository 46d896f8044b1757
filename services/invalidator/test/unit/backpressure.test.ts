import { AdaptiveRate } from '../../src/backpressure/adaptive-rate';
import { backoffMs } from '../../src/backpressure/retry-backoff';
import { TokenBucket } from '../../src/backpressure/token-bucket';

function fakeClock() {
  let t = 0;
  return {
    now: () => t,
    sleep: async (ms: number) => {
      t += ms;
    },
  };
}

describe('TokenBucket', () => {
  it('never lets more than rate × (1 + burst) operations through in one second', async () => {
    const clock = fakeClock();
    const bucket = new TokenBucket(1000, 0.05, clock.now, clock.sleep);
    let ops = 0;
    while (clock.now() < 1000) {
      await bucket.take(10);
      if (clock.now() < 1000) ops += 10;
    }
    expect(ops).toBeLessThanOrEqual(1000 * 1.05);
    expect(ops).toBeGreaterThanOrEqual(950);
  });

  it('a request larger than the bucket runs into debt that later takes repay', async () => {
    const clock = fakeClock();
    const bucket = new TokenBucket(100, 0.05, clock.now, clock.sleep);
    await bucket.take(200);
    await bucket.take(1);
    expect(clock.now()).toBeGreaterThanOrEqual(1900);
  });

  it('rate 0 means no ceiling', async () => {
    const clock = fakeClock();
    const bucket = new TokenBucket(0, 0.05, clock.now, clock.sleep);
    await bucket.take(1_000_000);
    expect(clock.now()).toBe(0);
  });
});

describe('AdaptiveRate', () => {
  it('cuts the rate when latency exceeds the target and recovers additively when it falls', () => {
    let t = 0;
    const rate = new AdaptiveRate(1000, 20, { stepMs: 100, now: () => t });
    t += 100;
    expect(rate.observe(50)).toBeCloseTo(670);
    t += 100;
    expect(rate.observe(60)).toBeCloseTo(448.9);
    t += 100;
    expect(rate.observe(5)).toBeCloseTo(498.9);
    for (let i = 0; i < 50; i++) {
      t += 100;
      rate.observe(5);
    }
    expect(rate.rate).toBe(1000);
  });

  it('a Redis failure drops to the floor, never to zero', () => {
    const rate = new AdaptiveRate(1000, 20, { floorFraction: 0.05 });
    expect(rate.failed()).toBe(50);
  });
});

describe('backoffMs', () => {
  it('is jittered below an exponentially growing cap', () => {
    expect(backoffMs(0, 100, 5000, () => 0.999)).toBeLessThanOrEqual(100);
    expect(backoffMs(3, 100, 5000, () => 0.999)).toBeLessThanOrEqual(800);
    expect(backoffMs(30, 100, 5000, () => 0.999)).toBeLessThanOrEqual(5000);
    expect(backoffMs(3, 100, 5000, () => 0)).toBe(0);
  });
});
