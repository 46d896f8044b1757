import { createLogger, hashTagForSlot, type CacheRedisClient } from '@settings/shared';
import { AdaptiveRate } from '../../src/backpressure/adaptive-rate';
import { InflightLimit } from '../../src/backpressure/inflight-limit';
import { mainThreadCpuSeconds, RedisCpuSampler, UNKNOWN_AFTER_SAMPLES } from '../../src/backpressure/redis-cpu';
import { RedisHealthProbe } from '../../src/backpressure/redis-health-probe';
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
  /** One step of `n` round trips of `ms` each, `stepMs` after the previous step. */
  function step(rate: AdaptiveRate, clock: { t: number }, ms: number, n = 10): number {
    for (let i = 0; i < n - 1; i++) rate.observe(ms);
    clock.t += 100;
    return rate.observe(ms);
  }

  it('starts at the hard maximum, cuts multiplicatively on a slow p99 and climbs back additively, never above the maximum', () => {
    const clock = { t: 0 };
    const rate = new AdaptiveRate(1000, 20, { stepMs: 100, now: () => clock.t });
    expect(rate.rate).toBe(1000);
    expect(step(rate, clock, 50)).toBeCloseTo(700);
    expect(step(rate, clock, 60)).toBeCloseTo(490);
    expect(step(rate, clock, 5)).toBeCloseTo(590);
    for (let i = 0; i < 20; i++) step(rate, clock, 5);
    expect(rate.rate).toBe(1000);
  });

  it('decides on the p99 of a step, so one slow round trip among fast ones does not cut the rate', () => {
    const clock = { t: 0 };
    const rate = new AdaptiveRate(1000, 20, { stepMs: 100, now: () => clock.t });
    step(rate, clock, 50); // 700
    for (let i = 0; i < 30; i++) rate.observe(2);
    rate.observe(500); // a GC pause or a rebalance: one outlier
    clock.t += 100;
    expect(rate.observe(2)).toBeCloseTo(800);
    // Two slow ones in a small window are a trend: cut.
    for (let i = 0; i < 30; i++) rate.observe(2);
    rate.observe(500);
    clock.t += 100;
    expect(rate.observe(500)).toBeCloseTo(560);
  });

  it('a step of a single round trip (after an idle stretch) does not decide: one slow call alone never cuts the rate', () => {
    const clock = { t: 0 };
    const rate = new AdaptiveRate(1000, 20, { stepMs: 100, now: () => clock.t });
    expect(step(rate, clock, 2)).toBe(1000);
    clock.t += 5000; // idle
    expect(rate.observe(40)).toBe(1000);
    clock.t += 5000;
    // The next one decides with both: the slow one is forgiven.
    expect(rate.observe(2)).toBe(1000);
    // Two slow ones in a row after idle are a trend: cut.
    clock.t += 5000;
    rate.observe(40);
    clock.t += 5000;
    expect(rate.observe(40)).toBeCloseTo(700);
  });

  it('never goes below the floor, and a Redis failure drops to it', () => {
    const clock = { t: 0 };
    const rate = new AdaptiveRate(1000, 20, { stepMs: 100, floorFraction: 0.05, now: () => clock.t });
    for (let i = 0; i < 30; i++) step(rate, clock, 100);
    expect(rate.rate).toBe(50);
    const other = new AdaptiveRate(1000, 20, { floorFraction: 0.05 });
    expect(other.failed()).toBe(50);
  });

  it('slow round trips to an idle Redis (a slow machine or process, not Redis) do not cut the rate; to a busy Redis they do', () => {
    const clock = { t: 0 };
    let busy = false;
    const rate = new AdaptiveRate(1000, 20, { stepMs: 100, now: () => clock.t, redisBusy: () => busy });
    expect(step(rate, clock, 80)).toBe(1000);
    busy = true;
    expect(step(rate, clock, 80)).toBeCloseTo(700);
  });

  it('reads Redis main-thread CPU seconds from INFO cpu (all threads on servers without the main-thread fields)', () => {
    expect(mainThreadCpuSeconds('# CPU\r\nused_cpu_sys:1.5\r\nused_cpu_user:3\r\nused_cpu_sys_main_thread:1.25\r\nused_cpu_user_main_thread:2.5\r\n')).toBeCloseTo(3.75);
    expect(mainThreadCpuSeconds('used_cpu_sys:1.5\nused_cpu_user:3\n')).toBeCloseTo(4.5);
    expect(mainThreadCpuSeconds('nothing')).toBeUndefined();
  });

  it('Redis refusing INFO (an ACL without it) makes it count as busy after a few samples, so latency alone decides, and says so once', async () => {
    const refusals: string[] = [];
    let cpu = 1;
    let refuse = false;
    let clock = 0;
    const redis = {
      isCluster: false,
      options: { host: 'redis', port: 6379 },
      info: () => (refuse ? Promise.reject(new Error("NOPERM User settings has no permissions to run the 'info' command")) : Promise.resolve(`used_cpu_sys_main_thread:0\r\nused_cpu_user_main_thread:${cpu}\r\n`)),
    };
    const sampler = new RedisCpuSampler(redis as never, 250, (err) => refusals.push(err.message), () => clock);
    await sampler.sample();
    clock += 1000;
    cpu += 0.1;
    await sampler.sample();
    expect(sampler.fraction).toBeCloseTo(0.1);
    // The user loses INFO: the last fraction (10 %: not busy) is not kept for good.
    refuse = true;
    for (let i = 0; i < UNKNOWN_AFTER_SAMPLES; i++) await sampler.sample();
    expect(sampler.fraction).toBe(Number.POSITIVE_INFINITY);
    expect(refusals).toHaveLength(1);
    // Allowed again: measured again.
    refuse = false;
    clock += 1000;
    cpu += 0.2;
    await sampler.sample();
    expect(sampler.fraction).toBeCloseTo(0.2);
  });

  it('a hard maximum of 0 means no ceiling: the loop is off', () => {
    const rate = new AdaptiveRate(0, 20);
    expect(rate.observe(1000)).toBe(0);
    expect(rate.failed()).toBe(0);
  });
});

describe('InflightLimit', () => {
  it('never runs more than the limit at once, across callers, in arrival order', async () => {
    const limit = new InflightLimit(2);
    let active = 0;
    let peak = 0;
    const order: number[] = [];
    const task = (i: number) => async () => {
      active++;
      peak = Math.max(peak, active);
      await new Promise((r) => setTimeout(r, 5));
      order.push(i);
      active--;
      return i;
    };
    const results = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => limit.run(task(i))));
    expect(results).toEqual([0, 1, 2, 3, 4, 5]);
    expect(peak).toBe(2);
    expect(order.slice(0, 2).sort()).toEqual([0, 1]);
  });

  it('a failing task frees its slot', async () => {
    const limit = new InflightLimit(1);
    await expect(limit.run(() => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(limit.run(() => Promise.resolve(7))).resolves.toBe(7);
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

describe('RedisHealthProbe', () => {
  // A Redis that takes every probe write.
  const healthyRedis = { isCluster: false, options: { host: '127.0.0.1', port: 6379 }, set: async () => 'OK' } as unknown as CacheRedisClient;
  const probeWithLog = (intervalMs: number) => {
    const lines: Array<Record<string, unknown>> = [];
    const log = createLogger('test', 'info', { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) });
    return { probe: new RedisHealthProbe(healthyRedis, { intervalMs }, log), lines };
  };

  it('a listener that throws is logged; the probe still resolves and the next listener still runs', async () => {
    const { probe, lines } = probeWithLog(1000);
    const seen: boolean[] = [];
    probe.onProbe(() => {
      throw new Error('Consumer group was not initialized, consumer#run must be called first');
    });
    probe.onProbe((healthy) => seen.push(healthy));
    await expect(probe.probe()).resolves.toBe(true);
    expect(seen).toEqual([true]);
    expect(lines.filter((l) => l.level === 'error' && l.msg === 'Redis health probe listener failed')).toHaveLength(1);
  });

  it('a listener that throws on every probe does not stop the periodic probes', async () => {
    const { probe } = probeWithLog(20);
    let calls = 0;
    probe.onProbe(() => {
      throw new Error('boom');
    });
    probe.onProbe(() => calls++);
    probe.start();
    try {
      const deadline = Date.now() + 3000;
      while (calls < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(calls).toBeGreaterThanOrEqual(3);
    } finally {
      probe.stop();
    }
  });

  it("on a cluster, closes only the silent master's connection, while the other master answers (its answers do not start the count over)", async () => {
    jest.useFakeTimers();
    try {
      const master = (port: number) => ({ options: { host: '127.0.0.1', port }, disconnect: jest.fn() });
      const silent = master(7001);
      const answering = master(7002);
      // Slot 0 is served by the silent master, slot 1 by the other; a write to slot 0 times out.
      const cluster = {
        isCluster: true,
        slots: [['127.0.0.1:7001'], ['127.0.0.1:7002']],
        nodes: () => [silent, answering],
        set: async (key: string) => {
          if (key.includes(`{${hashTagForSlot(0)}}`)) throw new Error('Command timed out');
          return 'OK';
        },
      };
      const resets = jest.fn();
      const probe = new RedisHealthProbe(cluster as unknown as CacheRedisClient, { intervalMs: 1000, onSilentReset: resets }, createLogger('test', 'silent'));
      for (let i = 0; i < 3; i++) {
        await expect(probe.probe()).resolves.toBe(false);
        jest.advanceTimersByTime(1000);
      }
      expect(silent.disconnect).not.toHaveBeenCalled(); // 3 timeouts, 2 s since the first
      await probe.probe();
      expect(silent.disconnect).toHaveBeenCalledWith(true);
      expect(answering.disconnect).not.toHaveBeenCalled();
      expect(resets).toHaveBeenCalledTimes(1);
    } finally {
      jest.useRealTimers();
    }
  });
});
