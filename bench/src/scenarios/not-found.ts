import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchContext } from '../context';
import { accountId, createAccounts, deleteAccounts } from '../db';
import { client, getAccount, getRequestBytes, grpcFrame, GET_ACCOUNT_SETTINGS_METHOD, GET_ACCOUNT_SETTINGS_PATH, waitForChannel } from '../grpc-util';
import { grpcCallsBetween } from '../grpc-status';
import { h2load, type H2loadResult } from '../h2load';
import { scrape, startSettingsProcess, type SettingsProc } from '../procs';
import { benchRedis, deleteAccountKeys } from '../redis-util';
import { median, ratio } from '../stats';

export type NotFoundTarget = 'cached' | 'absent' | 'absentUncached';
export const NOT_FOUND_TARGETS: readonly NotFoundTarget[] = ['cached', 'absent', 'absentUncached'];
export const NOT_FOUND_TARGET_LABELS: Record<NotFoundTarget, string> = {
  cached: 'Get of a name that exists, cached (the reference)',
  absent: 'Get of a name with no row, its absence cached (the default)',
  absentUncached: 'Get of a name with no row, CACHE_NOT_FOUND_TTL_SECONDS=0 (a call reads PostgreSQL unless it joins a read of the name in flight)',
};

export interface NotFoundRun {
  round: number;
  target: NotFoundTarget;
  saturated: H2loadResult;
  /** Keys the target's process read from PostgreSQL during the run, per answered request. */
  postgresReadsPerRequest: number;
  /**
   * How the process's calls ended over the measured run, by gRPC status (its own counter: an
   * error is an HTTP 200 to h2load). Absent in results from before it was kept.
   */
  grpcCodes?: Record<string, number>;
}

/** The status every measured call of a target must end with. */
const EXPECTED_CODE: Record<NotFoundTarget, string> = { cached: 'OK', absent: 'NOT_FOUND', absentUncached: 'NOT_FOUND' };

/** Calls of a run that ended with another status than its target's (undefined: not counted). */
export function unexpectedCalls(run: NotFoundRun): number | undefined {
  if (!run.grpcCodes) return undefined;
  return Object.entries(run.grpcCodes).reduce((n, [code, calls]) => n + (code === EXPECTED_CODE[run.target] ? 0 : calls), 0);
}

export interface NotFoundResult {
  load: { clients: number; streams: number; saturateSeconds: number; rounds: number };
  /** gRPC status each target answered in the pre-flight (h2load cannot see trailers): 0 for cached, 5 (NOT_FOUND) for the others. */
  preflightCodes: Record<NotFoundTarget, number | undefined>;
  runs: NotFoundRun[];
  byTarget: Record<NotFoundTarget, { rps: number; p50Ms: number; p99Ms: number; postgresReadsPerRequest: number }>;
  /** Medians over rounds of the per-round ratio to the cached Get of a name that exists. */
  ratios: { absentRps: number; absentUncachedRps: number };
  /**
   * True: each run's PostgreSQL reads were counted from the end of h2load's warm-up, like its
   * requests. Absent in results from before: counted from before the warm-up, so the warm-up's
   * reads were divided by the measured requests only (overstated by up to warm-up ÷ run time).
   */
  postgresReadsFromWarmupEnd?: boolean;
}

const DB_READS = 'settings_db_keys_read_total{kind="account_settings.read"}';

/**
 * Reads of a name that does not exist (a doctor who never saved settings, a caller polling for a
 * resource not created yet), saturated with h2load like the read path: with the absence cached
 * (the default) and with `CACHE_NOT_FOUND_TTL_SECONDS=0` in a second process side by side, against
 * a cached Get of a name that exists on the first, interleaved round by round.
 */
export async function runNotFound(ctx: BenchContext): Promise<NotFoundResult> {
  const s = ctx.sizes.readPath;
  const prefix = `${ctx.prefix}-nf`;
  const existing = accountId(prefix, 0);
  // Never created; one name per process: an absence one process cached in the shared Redis is
  // served by the other too (CACHE_NOT_FOUND_TTL_SECONDS=0 only stops a process filling them).
  const missing = accountId(prefix, 1);
  const missingElsewhere = accountId(prefix, 2);
  const redis = benchRedis();
  const procs: Partial<Record<'cachesAbsence' | 'noAbsence', SettingsProc>> = {};
  const runs: NotFoundRun[] = [];
  const preflightCodes: NotFoundResult['preflightCodes'] = { cached: undefined, absent: undefined, absentUncached: undefined };
  try {
    await createAccounts(prefix, 1);
    procs.cachesAbsence = await startSettingsProcess(ctx, 'not-found-settings');
    procs.noAbsence = await startSettingsProcess(ctx, 'not-found-settings-no-absence', { CACHE_NOT_FOUND_TTL_SECONDS: '0' });
    const procOf = (t: NotFoundTarget): SettingsProc => (t === 'absentUncached' ? procs.noAbsence! : procs.cachesAbsence!);
    const accountOf = (t: NotFoundTarget): string => (t === 'cached' ? existing : t === 'absent' ? missing : missingElsewhere);

    for (const target of NOT_FOUND_TARGETS) {
      const c = client(procOf(target).grpcPort);
      await waitForChannel(c);
      // Twice: the first read fills the entry (or the absence), the second is what is measured.
      await getAccount(c, accountOf(target), 5000);
      const res = await getAccount(c, accountOf(target), 5000);
      preflightCodes[target] = res.ok ? 0 : res.code;
      c.close();
    }
    if (preflightCodes.cached !== 0 || preflightCodes.absent !== 5 || preflightCodes.absentUncached !== 5) {
      throw new Error(`pre-flight: expected OK / NOT_FOUND / NOT_FOUND, got ${JSON.stringify(preflightCodes)}`);
    }

    const bodyFile = (t: NotFoundTarget): string => join(ctx.rawDir, `get-not-found-${t}.grpc`);
    for (const t of NOT_FOUND_TARGETS) writeFileSync(bodyFile(t), grpcFrame(getRequestBytes(accountOf(t), false)));
    const measured = (t: NotFoundTarget) => ({ port: procOf(t).grpcPort, path: GET_ACCOUNT_SETTINGS_PATH, bodyFile: bodyFile(t), warmupSeconds: s.warmupSeconds, clients: s.clients, streams: s.streams });
    for (const target of NOT_FOUND_TARGETS) await h2load({ ...measured(target), warmupSeconds: 0, durationSeconds: s.warmupSeconds + 1 });
    const rounds = Math.max(1, Math.ceil(s.rounds / 2));
    for (let r = 1; r <= rounds; r++) {
      const ordered = r % 2 === 1 ? NOT_FOUND_TARGETS : [...NOT_FOUND_TARGETS].reverse();
      for (const target of ordered) {
        // The counter is read when h2load's warm-up is over, not before it: the warm-up's requests
        // read PostgreSQL too but are not among the requests it counts (h2load.ts onMeasuring).
        let before: Map<string, number> | undefined;
        const saturated = await h2load({
          ...measured(target),
          durationSeconds: s.saturateSeconds,
          logFile: join(ctx.rawDir, `h2load-not-found-${target}-${r}.tsv`),
          onMeasuring: async () => {
            before = await scrape(procOf(target).metricsPort);
          },
        });
        if (!before) throw new Error('not-found: h2load never said its warm-up was over, so the PostgreSQL reads of its measured requests cannot be told apart');
        const after = await scrape(procOf(target).metricsPort);
        const reads = (after.get(DB_READS) ?? 0) - (before.get(DB_READS) ?? 0);
        const postgresReadsPerRequest = saturated.succeeded > 0 ? reads / saturated.succeeded : Number.NaN;
        const run: NotFoundRun = { round: r, target, saturated, postgresReadsPerRequest, grpcCodes: grpcCallsBetween(before, after, GET_ACCOUNT_SETTINGS_METHOD) };
        runs.push(run);
        ctx.log(`not-found: round ${r} ${target}: ${Math.round(saturated.rps)} req/s (p99 ${saturated.latencyMs.p99} ms), ${postgresReadsPerRequest} PostgreSQL reads per request, calls by status ${JSON.stringify(run.grpcCodes)}`);
      }
    }
  } finally {
    await procs.cachesAbsence?.stop();
    await procs.noAbsence?.stop();
    await deleteAccounts(prefix);
    await deleteAccountKeys(redis, prefix);
    redis.disconnect();
  }

  const byTarget = Object.fromEntries(
    NOT_FOUND_TARGETS.map((t) => {
      const rs = runs.filter((r) => r.target === t);
      return [
        t,
        {
          rps: median(rs.map((r) => r.saturated.rps)),
          p50Ms: median(rs.map((r) => r.saturated.latencyMs.p50)),
          p99Ms: median(rs.map((r) => r.saturated.latencyMs.p99)),
          postgresReadsPerRequest: median(rs.map((r) => r.postgresReadsPerRequest)),
        },
      ];
    }),
  ) as NotFoundResult['byTarget'];
  const perRound = (t: NotFoundTarget): number =>
    median([...new Set(runs.map((r) => r.round))].map((rd) => ratio(runs.find((x) => x.target === t && x.round === rd)?.saturated.rps ?? Number.NaN, runs.find((x) => x.target === 'cached' && x.round === rd)?.saturated.rps ?? Number.NaN)));
  return {
    load: { clients: ctx.sizes.readPath.clients, streams: ctx.sizes.readPath.streams, saturateSeconds: ctx.sizes.readPath.saturateSeconds, rounds: Math.max(1, Math.ceil(ctx.sizes.readPath.rounds / 2)) },
    preflightCodes,
    runs,
    byTarget,
    ratios: { absentRps: perRound('absent'), absentUncachedRps: perRound('absentUncached') },
    postgresReadsFromWarmupEnd: true,
  };
}
