import type Redis from 'ioredis';
import { xactCommits } from '../../db';
import { redisCounters } from '../../redis-util';
import { meanRate, peakRate, rateSeries, Sampler, type Series } from '../../sampler';
import { CPU_ROLES, CpuMeter, type CpuRole } from '../../process-cpu';
import { round } from '../../stats';
import type { VariantResult } from './result';
import type { AppCounters, Target } from './target';

/**
 * Samples once a second what the variant costs the servers: server-wide (Redis INFO,
 * pg_stat_database) and the target's own counters (commands it sent, queries it ran).
 */
export function sampleServerLoad(redis: Redis, target: Target): Sampler {
  let app: AppCounters = { redis: 0, pg: 0, hits: 0, lookups: 0 };
  // One /proc scan per tick, shared by the per-role probes (called together, in one tick).
  const meter = new CpuMeter();
  let scan: { at: number; seconds: Record<CpuRole, number> } | undefined;
  const cpuSeconds = (role: CpuRole): number => {
    if (!scan || Date.now() - scan.at > 250) scan = { at: Date.now(), seconds: meter.scan() };
    return scan.seconds[role];
  };
  return new Sampler(
    {
      redisCommands: async () => (await redisCounters(redis)).commands,
      redisCpu: async () => (await redisCounters(redis)).cpuSeconds,
      pgXacts: () => xactCommits(),
      appRedis: async () => (app = await target.appCounters()).redis,
      appPg: () => app.pg,
      ...Object.fromEntries(CPU_ROLES.map((role) => [cpuKey(role), () => cpuSeconds(role)])),
    },
    1000,
  ).start();
}

/** When the background was measured, the load ran, and the app counters before and after it. */
export interface LoadWindow {
  backgroundEnd: number;
  from: number;
  to: number;
  before: AppCounters;
  after: AppCounters;
}

/** Redis and PostgreSQL peaks against their background rate, and the cache hit ratio. */
export function serverLoad(series: Series, w: LoadWindow): Pick<VariantResult, 'redis' | 'postgres' | 'cacheHitRatio'> {
  const cpu = rateSeries(series, 'redisCpu', w.from, w.to);
  const lookups = w.after.lookups - w.before.lookups;
  return {
    redis: {
      backgroundOpsPerSecond: meanRate(series, 'redisCommands', -Infinity, w.backgroundEnd),
      peakOpsPerSecond: peakRate(series, 'redisCommands', w.from, w.to),
      peakCpuPercent: cpu.length ? Math.round(Math.max(...cpu.map((x) => x.rate)) * 100) : Number.NaN,
      appCommandsPeakPerSecond: peakRate(series, 'appRedis', w.from, w.to),
      appCommandsTotal: Math.round(w.after.redis - w.before.redis),
    },
    postgres: {
      backgroundXactsPerSecond: meanRate(series, 'pgXacts', -Infinity, w.backgroundEnd),
      // pg_stat counters are flushed at most once a second per backend: peaks use 2 s windows.
      peakXactsPerSecond: peakWindowRate(series, 'pgXacts', w.from, w.to, 2),
      appQueriesPeakPerSecond: peakRate(series, 'appPg', w.from, w.to),
      appQueriesTotal: Math.round(w.after.pg - w.before.pg),
    },
    cacheHitRatio: lookups > 0 ? round((w.after.hits - w.before.hits) / lookups, 4) : Number.NaN,
  };
}

/** The highest rate of `key` over `window` consecutive samples between `from` and `to`. */
function peakWindowRate(series: Series, key: string, from: number, to: number, window: number): number {
  let best = Number.NaN;
  const t = series.t;
  const v = series.values[key]!;
  for (let i = window; i < t.length; i++) {
    if (t[i]! < from || t[i - window]! > to) continue;
    const a = v[i - window];
    const b = v[i];
    if (a === undefined || b === undefined) continue;
    const rate = ((b - a) / (t[i]! - t[i - window]!)) * 1000;
    if (!(rate <= best)) best = rate;
  }
  return Math.round(best);
}

const cpuKey = (role: CpuRole): string => `cpu:${role}`;

/**
 * Cores each role used on average (CPU seconds per second, all its processes and threads) in
 * the last half of the warm phase and in the burst: what shared the machine's cores while the
 * latencies of `bulkheads` were measured.
 */
export function cpuCores(series: Series, windows: { preBurst: readonly [number, number]; burst: readonly [number, number] }): VariantResult['cpuCores'] {
  const byRole = (w: readonly [number, number]): Record<CpuRole, number> => Object.fromEntries(CPU_ROLES.map((r) => [r, meanRate(series, cpuKey(r), w[0], w[1], 2)])) as Record<CpuRole, number>;
  return { preBurst: byRole(windows.preBurst), burst: byRole(windows.burst) };
}
