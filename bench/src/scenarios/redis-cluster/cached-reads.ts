import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AccountSettings } from '@settings/api';
import type { BenchContext } from '../../context';
import { accountId, createAccounts, deleteAccounts } from '../../db';
import { client, getAccount, getRequestBytes, grpcFrame, GET_ACCOUNT_SETTINGS_METHOD, GET_ACCOUNT_SETTINGS_PATH, waitForChannel } from '../../grpc-util';
import { grpcCallsBetween, nonOkCalls } from '../../grpc-status';
import { h2load } from '../../h2load';
import { scrape, startSettingsProcess, type SettingsProc } from '../../procs';
import { median, ratio } from '../../stats';
import { waitTracking } from '../watch';
import { cacheTargetEnv, CACHE_TARGETS, type CacheTargetCleaner } from './cache-target';
import { READ_TARGETS, type ClusterReadRun, type ClusterReadsResult, type ReadTarget } from './result';

const HITS = 'settings_cache_requests_total{space="account-settings",result="hit"}';
const NEAR_HITS = 'settings_near_cache_requests_total{space="account-settings",result="hit"}';
const LOOKUPS = 'settings_cache_requests_total';

/**
 * Saturated cached Gets of one warm account against four settings processes: on the single Redis
 * and on the cluster, each with the near-cache on (the default: most Gets never reach Redis) and
 * off (every Get is Redis round trips: one MGET on the single Redis; on the cluster the
 * generation GET and the entry MGET go to their own slots' masters). Same h2load load per target,
 * rounds interleaved with the order rotated each round.
 */
export async function measureClusterReads(ctx: BenchContext, cleaner: CacheTargetCleaner): Promise<ClusterReadsResult> {
  const s = ctx.sizes.cluster;
  const prefix = `${ctx.prefix}-crd`;
  const account = accountId(prefix, 0);
  const procs = new Map<ReadTarget, SettingsProc>();
  const runs: ClusterReadRun[] = [];
  let verified = true;
  try {
    await createAccounts(prefix, 1);
    for (const target of READ_TARGETS) {
      const env = { ...cacheTargetEnv(target.startsWith('cluster') ? 'cluster' : 'single'), ...(target.endsWith('L1Off') ? { NEAR_CACHE_ENABLED: 'false' } : {}) };
      const proc = await startSettingsProcess(ctx, `redis-cluster-settings-${target}`, env);
      procs.set(target, proc);
      // The near-cache serves only once tracking is on for every server (each master on the cluster).
      if (!target.endsWith('L1Off')) await waitTracking(proc);
    }
    const bodyFile = join(ctx.rawDir, 'redis-cluster-get-cached.grpc');
    writeFileSync(bodyFile, grpcFrame(getRequestBytes(account, false)));
    let responseBytes = 0;
    for (const [target, proc] of procs) {
      // Two reads: the first fills this target's cache, the second must be a hit.
      const c = client(proc.grpcPort);
      await waitForChannel(c);
      await getAccount(c, account, 5000);
      const res = await getAccount(c, account, 5000);
      c.close();
      if (!res.ok) throw new Error(`pre-flight Get on ${target} failed: ${res.message}`);
      responseBytes = AccountSettings.encode(res.value!).finish().length;
    }
    const base = (target: ReadTarget) => ({ port: procs.get(target)!.grpcPort, path: GET_ACCOUNT_SETTINGS_PATH, bodyFile });
    // h2load cannot see gRPC status trailers: a counted run checks that every request got exactly
    // one message of the expected size (an error has no DATA). It also warms each process up.
    for (const target of READ_TARGETS) {
      const check = await h2load({ ...base(target), warmupSeconds: 0, requests: 1000, clients: 1, streams: 4 });
      verified &&= check.succeeded === 1000 && check.dataBytesPerRequest === responseBytes + 5;
    }
    for (let r = 1; r <= s.rounds; r++) {
      for (const target of READ_TARGETS.map((_, i) => READ_TARGETS[(i + r - 1) % READ_TARGETS.length]!)) {
        const before = await scrape(procs.get(target)!.metricsPort);
        const saturated = await h2load({
          ...base(target),
          warmupSeconds: s.warmupSeconds,
          durationSeconds: s.saturateSeconds,
          clients: s.clients,
          streams: s.streams,
          logFile: join(ctx.rawDir, `h2load-redis-cluster-${target}-${r}.tsv`),
        });
        const after = await scrape(procs.get(target)!.metricsPort);
        // An error is an HTTP 200 to h2load: the process's own status counter says how its calls ended.
        const codes = grpcCallsBetween(before, after, GET_ACCOUNT_SETTINGS_METHOD);
        if (nonOkCalls(codes) > 0) {
          verified = false;
          ctx.log(`redis-cluster reads: round ${r} ${target}: saturated run had non-OK gRPC statuses ${JSON.stringify(codes)}`);
        }
        const delta = (k: string): number => (after.get(k) ?? 0) - (before.get(k) ?? 0);
        runs.push({ round: r, target, saturated, hitShare: ratio(delta(HITS), delta(LOOKUPS)), nearCacheHitShare: ratio(delta(NEAR_HITS), delta(LOOKUPS)) });
        ctx.log(`redis-cluster reads: round ${r} ${target}: ${Math.round(saturated.rps)} req/s, p99 ${saturated.latencyMs.p99} ms`);
      }
    }
  } finally {
    for (const p of procs.values()) await p.stop();
    await deleteAccounts(prefix);
    for (const t of CACHE_TARGETS) await cleaner.deleteAccountKeys(t, prefix);
  }
  const byTarget = Object.fromEntries(
    READ_TARGETS.map((t) => {
      const rs = runs.filter((r) => r.target === t);
      return [t, { rps: median(rs.map((r) => r.saturated.rps)), p50Ms: median(rs.map((r) => r.saturated.latencyMs.p50)), p99Ms: median(rs.map((r) => r.saturated.latencyMs.p99)), hitShare: median(rs.map((r) => r.hitShare)), nearCacheHitShare: median(rs.map((r) => r.nearCacheHitShare)) }];
    }),
  ) as ClusterReadsResult['byTarget'];
  const perRound = (pick: (run: ClusterReadRun) => number, cluster: ReadTarget, single: ReadTarget): number =>
    median(
      [...new Set(runs.map((r) => r.round))].map((r) => {
        const of = (t: ReadTarget): number => {
          const run = runs.find((x) => x.round === r && x.target === t);
          return run ? pick(run) : Number.NaN;
        };
        return ratio(of(cluster), of(single));
      }),
    );
  const rps = (run: ClusterReadRun): number => run.saturated.rps;
  const p99 = (run: ClusterReadRun): number => run.saturated.latencyMs.p99;
  return {
    load: { clients: s.clients, streams: s.streams, saturateSeconds: s.saturateSeconds, rounds: s.rounds },
    responsesVerified: verified && runs.every((r) => r.saturated.failed === 0 && r.saturated.errored === 0),
    runs,
    byTarget,
    ratios: {
      rps: perRound(rps, 'cluster', 'single'),
      p99: perRound(p99, 'cluster', 'single'),
      rpsL1Off: perRound(rps, 'clusterL1Off', 'singleL1Off'),
      p99L1Off: perRound(p99, 'clusterL1Off', 'singleL1Off'),
    },
  };
}
