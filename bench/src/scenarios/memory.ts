import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchContext } from '../context';
import { sleep } from '../context';
import { accountId, createAccounts, deleteAccounts } from '../db';
import { client, getAccount, getRequestBytes, grpcFrame, GET_ACCOUNT_SETTINGS_PATH, updateDisplayName, waitForChannel } from '../grpc-util';
import { h2loadRate } from '../h2load';
import { deleteGroups, positionGroupAtEnd, type ChildService } from '@settings/local-stack';
import { openLoop, prng } from '../load';
import { startInvalidatorProcess, startSettingsProcess, type SettingsProc } from '../procs';
import { benchRedis, deleteAccountKeys } from '../redis-util';
import { median, round, slope } from '../stats';

export interface RssStats {
  /** First sample after the warm-up (10 % of the soak): often a GC high-water mark, not a level. */
  startMiB: number;
  /** Median of the first minute after the warm-up (of all of it in a soak shorter than that): where RSS settled. */
  startMedianMiB: number;
  endMiB: number;
  maxMiB: number;
  meanMiB: number;
  /** Least-squares slope after the warm-up. */
  slopeMiBPerMinute: number;
  /** The slope over an hour as a share of the mean RSS (0.12 = 12 % of the mean per hour). */
  slopePerHourShareOfMean: number;
  /** The slope rule of the verdict: the slope adds more than 10 % of the mean per hour. */
  slopeRule: boolean;
  /** The quarter-over-quarter rule: the last quarter's median exceeds the second quarter's by more than 5 %. */
  quarterRule: boolean;
  /** See rssStats. */
  verdict: 'no growth' | 'growing' | 'too short to judge';
}

export interface MemoryResult {
  soakSeconds: number;
  load: { h2loadReadRps: number; harnessReadsPerSecond: number; writesPerSecond: number; h2loadRequests: number; harnessReads: number; writes: number; writeErrors: number };
  settings: RssStats;
  invalidator: RssStats;
  /** Downsampled series for the chart: seconds since start, RSS MiB of each process. */
  series: Array<{ s: number; settingsMiB: number; invalidatorMiB: number }>;
}

const ACCOUNTS = 2000;

/**
 * Scenario 5: resident memory of the two services, each its own process started from its
 * compiled entry point, under steady load for the soak duration: h2load Gets at a fixed rate,
 * Zipf-free uniform Gets over many accounts from the harness (misses, fills), and saves through
 * the service that the invalidator then evicts.
 */
export async function runMemory(ctx: BenchContext): Promise<MemoryResult> {
  const m = ctx.sizes.memory;
  const prefix = `${ctx.prefix}-mem`;
  const redis = benchRedis();
  const group = `${prefix}-invalidator`;
  let settings: SettingsProc | undefined;
  let inv: ChildService | undefined;
  const samples: Array<{ t: number; s: number; i: number }> = [];
  const load = { h2loadReadRps: m.readRps, harnessReadsPerSecond: Math.max(10, Math.round(m.readRps / 4)), writesPerSecond: m.writesPerSecond, h2loadRequests: 0, harnessReads: 0, writes: 0, writeErrors: 0 };
  try {
    await createAccounts(prefix, ACCOUNTS);
    await positionGroupAtEnd(group, { drainFirst: true });
    inv = await startInvalidatorProcess(ctx, 'memory-invalidator', group);
    settings = await startSettingsProcess(ctx, 'memory-settings');
    const c = client(settings.grpcPort);
    await waitForChannel(c);
    const body = join(ctx.rawDir, 'memory-get.grpc');
    writeFileSync(body, grpcFrame(getRequestBytes(accountId(prefix, 0), false)));

    const svc = settings;
    const invSvc = inv;
    const t0 = Date.now();
    const timer = setInterval(() => {
      const s = svc.rssKb();
      const i = invSvc.rssKb();
      if (s !== undefined && i !== undefined) samples.push({ t: (Date.now() - t0) / 1000, s: s / 1024, i: i / 1024 });
    }, ctx.quick ? 250 : 1000);
    const rand = prng(7);
    let seq = 0;
    try {
      const durationMs = m.soakSeconds * 1000;
      const [h2] = await Promise.all([
        h2loadRate({ port: svc.grpcPort, path: GET_ACCOUNT_SETTINGS_PATH, bodyFile: body, durationSeconds: m.soakSeconds, rps: m.readRps }),
        openLoop(load.harnessReadsPerSecond, durationMs, async () => {
          await getAccount(c, accountId(prefix, Math.floor(rand() * ACCOUNTS)), 2000);
          load.harnessReads++;
        }),
        openLoop(m.writesPerSecond, durationMs, async () => {
          const res = await updateDisplayName(c, accountId(prefix, Math.floor(rand() * ACCOUNTS)), `soak ${seq++}`, 2000);
          load.writes++;
          if (!res.ok) load.writeErrors++;
        }),
      ]);
      load.h2loadRequests = h2.requests;
    } finally {
      clearInterval(timer);
      c.close();
    }
    await sleep(500);
  } finally {
    await settings?.stop();
    await inv?.stop();
    await deleteGroups([group]);
    await deleteAccounts(prefix);
    await deleteAccountKeys(redis, prefix);
    redis.disconnect();
  }
  const step = Math.max(1, Math.ceil(samples.length / 300));
  return {
    soakSeconds: m.soakSeconds,
    load,
    settings: rssStats(samples.map((x) => [x.t, x.s])),
    invalidator: rssStats(samples.map((x) => [x.t, x.i])),
    series: samples.filter((_, i) => i % step === 0).map((x) => ({ s: round(x.t, 1), settingsMiB: round(x.s, 1), invalidatorMiB: round(x.i, 1) })),
  };
}

/**
 * Start/end/max/mean and a growth verdict that GC spikes cannot fool: the first 10 % is warm-up;
 * the slope is a least-squares fit over the rest; "growing" needs both the median of the last
 * quarter to exceed the median of the second quarter by more than 5 % (quarterRule) and the
 * slope to add more than 10 % of the mean per hour (slopeRule). Soaks under two minutes are too
 * short to judge. The start shown is the median of the first minute after the warm-up: the first
 * sample after it can be a GC high-water mark (204 MiB before settling at ~160 in one run).
 */
export function rssStats(points: Array<[number, number]>): RssStats {
  if (points.length === 0)
    return { startMiB: NaN, startMedianMiB: NaN, endMiB: NaN, maxMiB: NaN, meanMiB: NaN, slopeMiBPerMinute: NaN, slopePerHourShareOfMean: NaN, slopeRule: false, quarterRule: false, verdict: 'too short to judge' };
  const warm = points.slice(Math.floor(points.length * 0.1));
  const ys = points.map((p) => p[1]);
  const mean = ys.reduce((a, b) => a + b, 0) / ys.length;
  const perMinute =
    slope(
      warm.map((p) => p[0]),
      warm.map((p) => p[1]),
    ) * 60;
  const q = Math.floor(points.length / 4);
  const secondQuarter = median(points.slice(q, 2 * q).map((p) => p[1]));
  const lastQuarter = median(points.slice(3 * q).map((p) => p[1]));
  const span = points[points.length - 1]![0] - points[0]![0];
  const quarterRule = lastQuarter > secondQuarter * 1.05;
  const slopeRule = perMinute * 60 > 0.1 * mean;
  const firstMinute = warm.filter((p) => p[0] < warm[0]![0] + 60).map((p) => p[1]);
  return {
    startMiB: round(warm[0]![1], 1),
    startMedianMiB: round(median(firstMinute), 1),
    endMiB: round(points[points.length - 1]![1], 1),
    maxMiB: round(Math.max(...ys), 1),
    meanMiB: round(mean, 1),
    slopeMiBPerMinute: round(perMinute, 3),
    slopePerHourShareOfMean: round((perMinute * 60) / mean, 3),
    slopeRule,
    quarterRule,
    verdict: span < 120 ? 'too short to judge' : quarterRule && slopeRule ? 'growing' : 'no growth',
  };
}
