import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AccountSettings } from '@settings/api';
import type { BenchContext } from '../context';
import { accountId, createAccounts, deleteAccounts } from '../db';
import { client, getAccount, getRequestBytes, grpcFrame, GET_ACCOUNT_SETTINGS_METHOD, GET_ACCOUNT_SETTINGS_PATH, waitForChannel } from '../grpc-util';
import { h2load, type H2loadResult } from '../h2load';
import type { ChildService } from '@settings/local-stack';
import { processCpuSeconds } from '../process-cpu';
import { benchScript, scrape, spawnNode, startSettingsProcess, waitIpcReady, type SettingsProc } from '../procs';
import { benchRedis, deleteAccountKeys } from '../redis-util';
import { grpcCallsBetween, nonOkCalls } from '../grpc-status';
import { waitForCpuToSettle } from '../cpu-settle';
import { grpcChecksByRound, readPathRatios, targetMedians, type ReadPathRatios, type RoundGrpcCheck, type TargetMedians } from './read-path-derive';

export type ReadTarget = 'empty' | 'cached' | 'cachedL1Off' | 'consistent';
export const READ_TARGETS: readonly ReadTarget[] = ['empty', 'cached', 'cachedL1Off', 'consistent'];
export const READ_TARGET_LABELS: Record<ReadTarget, string> = {
  empty: 'empty grpc-js handler (pre-encoded response)',
  cached: 'settings service, cached Get (minimize_latency, near-cache on: the default)',
  cachedL1Off: 'settings service, cached Get (minimize_latency, NEAR_CACHE_ENABLED=false: every call reads Redis)',
  consistent: 'settings service, fully_consistent Get (PostgreSQL)',
};

/**
 * Before each round: wait until the machine's CPU is less than a quarter busy over one second
 * (the stack idles well under that; a saturated run takes both cores), for at most 15 s.
 */
export const READ_SETTLE = { busyBelow: 0.25, windowMs: 1000, maxMs: 15_000 } as const;

export interface ReadRun {
  round: number;
  target: ReadTarget;
  /** Saturation: h2load with `clients` connections × `streams` concurrent streams. */
  saturated: H2loadResult;
  /** Light load: one connection, one stream at a time (closed loop). */
  single: H2loadResult;
  /**
   * The saturated run's GetAccountSettings calls by gRPC status code, from the target process's
   * own `settings_grpc_requests_total{method,code}` read before and after it (h2load cannot see
   * trailers: an error is an HTTP 200 to it). Absent for the empty handler, which has no such
   * counter, and in results from before it was read.
   */
  saturatedGrpcCodes?: Record<string, number>;
}

export interface ReadPathResult {
  load: { clients: number; streams: number; saturateSeconds: number; latencySeconds: number; rounds: number };
  responseBytes: number;
  requestBytes: { cached: number; consistent: number };
  /**
   * A counted h2load run per target got exactly one response message of the expected size per
   * request, no run failed a request, and (when counted) no saturated run had a non-OK gRPC status.
   */
  responsesVerified: boolean;
  /** Per round (absent in results from before the status counter was read). */
  grpcStatusByRound?: RoundGrpcCheck[];
  verification: Partial<Record<ReadTarget, { requests: number; succeeded: number; dataBytesPerRequest: number }>>;
  runs: ReadRun[];
  byTarget: Record<ReadTarget, TargetMedians>;
  /** Medians over rounds of the per-round ratio (settings service / empty handler), unrounded (read-path-derive.ts). */
  ratios: ReadPathRatios;
  cacheHitShareDuringCachedRuns: number;
  /** Share of the cached (near-cache on) runs' lookups the near-cache served. */
  nearCacheHitShareDuringCachedRuns: number;
  serviceRssMaxMiB: number;
  /**
   * CPU the target process spent per answered request (user + system, all threads, from
   * /proc): paced at `pacedRps` on one stream, each request alone, and saturated (counted run,
   * `clients` × `streams`). Measured once per target after the rounds.
   */
  cpuPerRequest: { pacedRps: number; byTarget: Partial<Record<ReadTarget, { pacedMicros: number; saturatedMicros: number }>> };
  /**
   * The unmeasured warm-up's target order, and the wait for the CPU to settle before each round.
   * Absent in results from before: their warm-up ran in table order (fully_consistent last, right
   * before round 1) and no round waited.
   */
  warmup?: {
    order: ReadTarget[];
    settle: { busyBelow: number; windowMs: number; maxMs: number };
    settledBeforeRound: Array<{ round: number; waitedSeconds: number; busyShare: number; settled: boolean }>;
  };
}

/**
 * Scenario 1: the settings service's Get against an empty grpc-js handler returning the same
 * bytes, measured with the same load generator (h2load, pre-encoded gRPC body) in the same run,
 * interleaved round by round (the order rotates each round).
 */
export async function runReadPath(ctx: BenchContext): Promise<ReadPathResult> {
  const s = ctx.sizes.readPath;
  const prefix = `${ctx.prefix}-rp`;
  const account = accountId(prefix, 0);
  let settings: SettingsProc | undefined;
  let settingsL1Off: SettingsProc | undefined;
  let empty: ChildService | undefined;
  const redis = benchRedis();
  const runs: ReadRun[] = [];
  let rssMax = 0;
  let hitShare = Number.NaN;
  let nearHitShare = Number.NaN;
  let responseBytes = 0;
  const verification: Partial<Record<ReadTarget, { requests: number; succeeded: number; dataBytesPerRequest: number }>> = {};
  const cpuPerRequest: ReadPathResult['cpuPerRequest']['byTarget'] = {};
  const settledBeforeRound: NonNullable<ReadPathResult['warmup']>['settledBeforeRound'] = [];
  const bodies = { cached: getRequestBytes(account, false), consistent: getRequestBytes(account, true) };
  try {
    await createAccounts(prefix, 1);
    // One caller drives the fully_consistent runs as fast as PostgreSQL answers: that is the
    // database path's throughput, not the per-caller rate limit's (consistent-flood measures that).
    settings = await startSettingsProcess(ctx, 'read-path-settings', { DB_DELIBERATE_READS_PER_CALLER_PER_SECOND: '0' });
    // The same service without its near-cache, side by side: every cached Get is one Redis MGET.
    settingsL1Off = await startSettingsProcess(ctx, 'read-path-settings-l1-off', { NEAR_CACHE_ENABLED: 'false' });
    const c = client(settings.grpcPort);
    await waitForChannel(c);
    // Two reads: the first fills the cache, the second must be a hit.
    await getAccount(c, account, 5000);
    const res = await getAccount(c, account, 5000);
    const strong = await getAccount(c, account, 5000, true);
    if (!res.ok || !strong.ok) throw new Error(`pre-flight Get failed: ${res.message ?? strong.message}`);
    const response = Buffer.from(AccountSettings.encode(res.value!).finish());
    responseBytes = response.length;
    c.close();

    const responseFile = join(ctx.rawDir, 'empty-response.bin');
    writeFileSync(responseFile, response);
    const bodyFiles: Record<ReadTarget, string> = {
      empty: join(ctx.rawDir, 'get-cached.grpc'),
      cached: join(ctx.rawDir, 'get-cached.grpc'),
      cachedL1Off: join(ctx.rawDir, 'get-cached.grpc'),
      consistent: join(ctx.rawDir, 'get-consistent.grpc'),
    };
    writeFileSync(bodyFiles.cached, grpcFrame(bodies.cached));
    writeFileSync(bodyFiles.consistent, grpcFrame(bodies.consistent));

    empty = spawnNode(ctx, 'empty-server', benchScript('src/servers/empty-server.js'), { EMPTY_RESPONSE_FILE: responseFile });
    const emptyPort = await waitIpcReady(empty);
    const portOf = (t: ReadTarget): number => (t === 'empty' ? emptyPort : t === 'cachedL1Off' ? settingsL1Off!.grpcPort : settings!.grpcPort);

    const order: ReadTarget[] = [...READ_TARGETS];
    const svc = settings;
    const rssTimer = setInterval(() => (rssMax = Math.max(rssMax, svc.rssKb() ?? 0)), 250);
    let hits0 = 0;
    let hitTotal = 0;
    let lookups = 0;
    let nearHitTotal = 0;
    try {
      // h2load cannot see gRPC status trailers: check that each target answers every request of
      // a counted run with exactly one message of the expected size (an error has no DATA).
      for (const target of order) {
        const check = await h2load({ port: portOf(target), path: GET_ACCOUNT_SETTINGS_PATH, bodyFile: bodyFiles[target], warmupSeconds: 0, requests: 1000, clients: 1, streams: 4 });
        verification[target] = { requests: check.requests, succeeded: check.succeeded, dataBytesPerRequest: check.dataBytesPerRequest };
      }
      // Unmeasured warm-up of every target (JIT, connection pools, the cache entry), in the
      // reverse of the table order: the fully_consistent run, which saturates PostgreSQL, comes
      // first, not last. Run in table order it ended right before round 1's first run (the empty
      // handler's), which most likely shared the cores with PostgreSQL's leftover work: 12.5k req/s
      // against ~20k in the other rounds of one run, which lifted that round's cached ÷ empty
      // ratio to ×1.29 and the median of the ratios with it.
      for (const target of [...order].reverse()) {
        await h2load({ port: portOf(target), path: GET_ACCOUNT_SETTINGS_PATH, bodyFile: bodyFiles[target], warmupSeconds: 0, durationSeconds: s.warmupSeconds + 1, clients: s.clients, streams: s.streams });
      }
      const measured = (target: ReadTarget) => ({ port: portOf(target), path: GET_ACCOUNT_SETTINGS_PATH, bodyFile: bodyFiles[target], warmupSeconds: s.warmupSeconds });
      for (let round = 1; round <= s.rounds; round++) {
        // And every round (round 1 after the warm-up, the others after the previous round's
        // one-stream runs) starts once the machine's CPU has settled, so that no round's first
        // run inherits more leftover load than another's; waited for at most READ_SETTLE.maxMs.
        const settle = await waitForCpuToSettle(READ_SETTLE);
        settledBeforeRound.push({ round, waitedSeconds: Math.round(settle.waitedMs / 100) / 10, busyShare: Number.isFinite(settle.busyShare) ? Math.round(settle.busyShare * 1000) / 1000 : settle.busyShare, settled: settle.settled });
        if (!settle.settled) ctx.log(`read-path: round ${round}: CPU still ${Math.round(settle.busyShare * 100)} % busy after ${Math.round(settle.waitedMs / 1000)} s; measuring anyway`);
        // Saturated runs back to back, then the one-stream runs, so each target is measured
        // seconds from the empty handler, not a whole round apart; the order alternates
        // (forward, then reversed) so that drift in this shared machine's speed favours no
        // target over a pair of rounds, and the cached Get is always next to the empty handler.
        const ordered = round % 2 === 1 ? order : [...order].reverse();
        const saturatedRuns = new Map<ReadTarget, H2loadResult>();
        const grpcCodes = new Map<ReadTarget, Record<string, number>>();
        for (const target of ordered) {
          // Every settings target's status counter, before and after its run (the empty handler has none).
          const proc = target === 'empty' ? undefined : target === 'cachedL1Off' ? settingsL1Off : settings;
          const statusBefore = proc ? await scrape(proc.metricsPort) : undefined;
          const before = target === 'cached' ? statusBefore : undefined;
          hits0 = before?.get('settings_cache_requests_total{space="account-settings",result="hit"}') ?? 0;
          saturatedRuns.set(target, await h2load({ ...measured(target), durationSeconds: s.saturateSeconds, clients: s.clients, streams: s.streams, logFile: join(ctx.rawDir, `h2load-${target}-${round}-sat.tsv`) }));
          const statusAfter = proc ? await scrape(proc.metricsPort) : undefined;
          if (statusBefore && statusAfter) {
            const codes = grpcCallsBetween(statusBefore, statusAfter, GET_ACCOUNT_SETTINGS_METHOD);
            grpcCodes.set(target, codes);
            if (nonOkCalls(codes) > 0) ctx.log(`read-path: round ${round} ${target}: saturated run had non-OK gRPC statuses ${JSON.stringify(codes)}`);
          }
          if (before) {
            const after = statusAfter!;
            hitTotal += (after.get('settings_cache_requests_total{space="account-settings",result="hit"}') ?? 0) - hits0;
            const nearHits = 'settings_near_cache_requests_total{space="account-settings",result="hit"}';
            nearHitTotal += (after.get(nearHits) ?? 0) - (before.get(nearHits) ?? 0);
            lookups += (after.get('settings_cache_requests_total') ?? 0) - (before.get('settings_cache_requests_total') ?? 0);
          }
        }
        for (const target of ordered) {
          const single = await h2load({ ...measured(target), durationSeconds: s.latencySeconds, clients: 1, streams: 1, logFile: join(ctx.rawDir, `h2load-${target}-${round}-single.tsv`) });
          const saturated = saturatedRuns.get(target)!;
          const codes = grpcCodes.get(target);
          runs.push({ round, target, saturated, single, ...(codes ? { saturatedGrpcCodes: codes } : {}) });
          ctx.log(`read-path: round ${round} ${target}: ${Math.round(saturated.rps)} req/s (p99 ${saturated.latencyMs.p99} ms), single-stream p50 ${single.latencyMs.p50} ms`);
        }
      }
      const pidOf = (t: ReadTarget): number | undefined => (t === 'empty' ? empty!.child.pid : t === 'cachedL1Off' ? settingsL1Off!.child.pid : settings!.child.pid);
      for (const target of order) {
        const cpuPer = async (run: () => Promise<H2loadResult>): Promise<number> => {
          const pid = pidOf(target);
          const before = pid === undefined ? undefined : processCpuSeconds(pid);
          const r = await run();
          const after = pid === undefined ? undefined : processCpuSeconds(pid);
          return before === undefined || after === undefined || r.succeeded === 0 ? Number.NaN : Math.round(((after - before) * 1e6) / r.succeeded);
        };
        const base = { port: portOf(target), path: GET_ACCOUNT_SETTINGS_PATH, bodyFile: bodyFiles[target], warmupSeconds: 0 };
        const pacedMicros = await cpuPer(() => h2load({ ...base, durationSeconds: s.cpu.pacedSeconds, clients: 1, streams: 1, rps: s.cpu.pacedRps }));
        const saturatedMicros = await cpuPer(() => h2load({ ...base, requests: s.cpu.saturatedRequests, clients: s.clients, streams: s.streams }));
        cpuPerRequest[target] = { pacedMicros, saturatedMicros };
        ctx.log(`read-path: ${target}: CPU per request ${pacedMicros} µs paced at ${s.cpu.pacedRps}/s, ${saturatedMicros} µs saturated`);
      }
    } finally {
      clearInterval(rssTimer);
    }
    hitShare = lookups > 0 ? hitTotal / lookups : Number.NaN;
    nearHitShare = lookups > 0 ? nearHitTotal / lookups : Number.NaN;
  } finally {
    await empty?.stop();
    await settings?.stop();
    await settingsL1Off?.stop();
    await deleteAccounts(prefix);
    await deleteAccountKeys(redis, prefix);
    redis.disconnect();
  }

  const expected = responseBytes + 5;
  const grpcStatusByRound = grpcChecksByRound(runs);
  const responsesVerified =
    Object.values(verification).length === READ_TARGETS.length &&
    Object.values(verification).every((v) => v.requests === 1000 && v.succeeded === 1000 && v.dataBytesPerRequest === expected) &&
    runs.every((r) => [r.saturated, r.single].every((h) => h.failed === 0 && h.errored === 0)) &&
    grpcStatusByRound.every((g) => g.verified);
  const byTarget = Object.fromEntries(READ_TARGETS.map((t) => [t, targetMedians(runs, t)])) as ReadPathResult['byTarget'];
  return {
    load: { clients: s.clients, streams: s.streams, saturateSeconds: s.saturateSeconds, latencySeconds: s.latencySeconds, rounds: s.rounds },
    responseBytes,
    requestBytes: { cached: bodies.cached.length, consistent: bodies.consistent.length },
    responsesVerified,
    grpcStatusByRound,
    verification,
    runs,
    byTarget,
    ratios: readPathRatios(runs),
    cacheHitShareDuringCachedRuns: Number.isFinite(hitShare) ? Math.round(hitShare * 10000) / 10000 : hitShare,
    nearCacheHitShareDuringCachedRuns: Number.isFinite(nearHitShare) ? Math.round(nearHitShare * 10000) / 10000 : nearHitShare,
    serviceRssMaxMiB: Math.round(rssMax / 1024),
    cpuPerRequest: { pacedRps: s.cpu.pacedRps, byTarget: cpuPerRequest },
    warmup: { order: [...READ_TARGETS].reverse(), settle: READ_SETTLE, settledBeforeRound },
  };
}
