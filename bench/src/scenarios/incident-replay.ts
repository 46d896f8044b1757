import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { status } from '@grpc/grpc-js';
import { AccountSettings, type SettingsServiceClient } from '@settings/api';
import { cacheKeys, parseCacheValue } from '@settings/shared';
import type { LegacyCounters, LegacyStrategy } from '../../baselines/legacy-cache';
import type { BenchContext } from '../context';
import { benchRedisUrl, sleep } from '../context';
import { accountId, createAccounts, deleteAccounts, escapeLike, sql, xactCommits } from '../db';
import { client, getAccount, updateDisplayName, waitForChannel } from '../grpc-util';
import { deleteGroups, drainDebezium, groupCaughtUp, positionGroupAtEnd } from '../kafka-util';
import { openLoop, prng, Zipf } from '../load';
import { benchScript, ipcCall, scrape, spawnNode, startInvalidatorProcess, startSettingsProcess, waitIpcReady, type ChildService } from '../procs';
import { benchRedis, deleteByPattern, globEscape, redisCounters } from '../redis-util';
import { meanRate, peakRate, rateSeries, Sampler, type Series } from '../sampler';
import { medianDeep, percentileSorted, round as roundTo, sortedCopy, summarize, type LatencySummary } from '../stats';
import { localDatabaseUrl } from '@settings/shared';

export type IncidentVariant = LegacyStrategy | 'this-system';
export const INCIDENT_VARIANTS: readonly IncidentVariant[] = ['ttl-only', 'delete-on-write', 'clear-all-on-write', 'this-system'];
export const INCIDENT_LABELS: Record<IncidentVariant, string> = {
  'ttl-only': '(a) TTL-only cache, 5 min',
  'delete-on-write': '(b) delete-on-write (app code)',
  'clear-all-on-write': '(b′) clear-all-on-write (the hotfix)',
  'this-system': '(c) this system',
};

const READ_DEADLINE_MS = 2000;
const SAVE_DEADLINE_MS = 2000;

export interface TimelinePoint {
  /** Seconds since the load started. */
  s: number;
  reads: number;
  readP99Ms: number;
  staleReads: number;
  saveP99Ms: number;
  redisOps: number;
  pgXacts: number;
  /** Worst event-loop delay of the harness in that second (sanity check of the load generator). */
  harnessLoopDelayMs: number;
}

export interface VariantResult {
  variant: IncidentVariant;
  label: string;
  round: number;
  reads: { total: number; ok: number; errors: number; timeouts: number; shed: number; latencyMs: LatencySummary; burstLatencyMs: LatencySummary; burstLatencyOutsideBulkMs: LatencySummary };
  saves: { total: number; ok: number; errors: number; timeouts: number; latencyMs: LatencySummary; burstLatencyMs: LatencySummary; burstLatencyOutsideBulkMs: LatencySummary };
  bulk: { rows: number; statementMs: number; startedAtS: number };
  /** fromSaves / fromBulk: split by the kind of the first newer write the read missed. */
  stale: { reads: number; share: number; maxAgeMs: number; p99AgeMs: number; fromSaves: { reads: number; maxAgeMs: number }; fromBulk: { reads: number; maxAgeMs: number } };
  redis: { backgroundOpsPerSecond: number; peakOpsPerSecond: number; peakCpuPercent: number; appCommandsPeakPerSecond: number; appCommandsTotal: number };
  postgres: { backgroundXactsPerSecond: number; peakXactsPerSecond: number; appQueriesPeakPerSecond: number; appQueriesTotal: number };
  cacheHitRatio: number;
  /** Checked quiesceSeconds after the load (longer for this system: until its invalidator caught up). */
  staleKeysAfterQuiescence: { cachedKeys: number; staleKeys: number; quiesceSeconds: number; checkedAfterBulkCommitMs: number };
  timeline: TimelinePoint[];
}

export interface IncidentResult {
  accounts: number;
  zipfS: number;
  hottest1000Share: number;
  load: { readsPerSecond: number; normalSavesPerSecond: number; burstSavesPerSecond: number; warmSeconds: number; burstSeconds: number; tailSeconds: number; quiesceSeconds: number };
  payloadBytes: { legacy: number; service: number };
  rounds: number;
  /** Every run, in the order they ran (rounds interleave the four variants). */
  variants: VariantResult[];
  /** Per variant, the median over rounds of every number (timeline: round 1). */
  byVariant: VariantResult[];
}

interface ReadRec {
  start: number;
  account: number;
  latency: number;
  version: number;
  ok: boolean;
  timeout: boolean;
}

export interface BulkResult {
  count: number;
  committedAt: number;
  /** `account_id<TAB>version` lines of every updated row. */
  file: string;
}

interface Target {
  clients: SettingsServiceClient[];
  /** Cumulative app-side counters (Redis commands, PG queries, cache hits/lookups). */
  appCounters(): Promise<{ redis: number; pg: number; hits: number; lookups: number }>;
  /**
   * Runs the bulk UPDATE (and whatever the variant does after it). `committedAt`: when the
   * executor saw the UPDATE return, before any app-side invalidation.
   */
  bulk(likePattern: string, displayName: string, outFile: string): Promise<BulkResult>;
  /** The version the cache holds for each account (absent: not cached, or a marker). */
  cachedVersions(ids: string[]): Promise<Map<string, number>>;
  /**
   * Waits until every committed change has been applied to the cache (this system: Debezium
   * drained and the invalidator's group committed at the topic ends); resolves at once for the
   * app-code baselines, whose invalidation finished with the write.
   */
  settle(timeoutMs: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Scenario 3: the 2021-09-23 incident replayed on the same data and load three ways (plus the
 * hotfix's clear-everything form). Read-heavy Zipf traffic, then a burst of saves with one bulk
 * UPDATE over every account, then quiet. Reads are stale when they return a version older than
 * a write whose commit the harness had already seen acknowledged when the read started.
 */
export async function runIncidentReplay(ctx: BenchContext): Promise<IncidentResult> {
  const s = ctx.sizes.incident;
  const prefix = `${ctx.prefix}-inc`;
  const ids = Array.from({ length: s.accounts }, (_, i) => accountId(prefix, i));
  const zipf = new Zipf(s.accounts, s.zipfS, 42);
  const redis = benchRedis();
  const variants: VariantResult[] = [];
  const payloadBytes = { legacy: 0, service: 0 };
  // Acknowledged writes per account: version, when the harness (or the bulk job) saw it
  // committed, and what it was (i: initial insert, s: a save, b: the bulk update).
  const writes = new Map<number, WriteRec[]>();
  const recordWrite = (account: number, v: number, ack: number, kind: WriteRec['kind']): void => {
    let list = writes.get(account);
    if (!list) writes.set(account, (list = []));
    list.push({ v, ack, kind });
  };
  const indexOf = new Map(ids.map((id, i) => [id, i]));

  try {
    ctx.log(`incident: creating ${s.accounts} accounts`);
    await createAccounts(prefix, s.accounts);
    const initial = await sql<{ account_id: string; version: string }>('SELECT account_id, version::text AS version FROM account_settings WHERE account_id LIKE $1', [`${escapeLike(prefix)}-%`]);
    const t0 = Date.now();
    for (const r of initial) recordWrite(indexOf.get(r.account_id)!, Number(r.version), t0, 'i');

    // BENCH_INCIDENT_VARIANTS=this-system,ttl-only runs a subset (for investigating one design).
    const only = (process.env.BENCH_INCIDENT_VARIANTS ?? '').split(',').filter(Boolean);
    const chosen = INCIDENT_VARIANTS.filter((v) => only.length === 0 || only.includes(v));
    for (let round = 1; round <= s.rounds; round++) {
      const order = chosen.map((_, i) => chosen[(i + round - 1) % chosen.length]!);
      for (const variant of order) {
        ctx.log(`incident: round ${round}, ${INCIDENT_LABELS[variant]}`);
        const target = variant === 'this-system' ? await startThisSystem(ctx, prefix, round) : await startLegacy(ctx, variant, `bench:${ctx.runId}:${variant}:r${round}:`, s.ttlSeconds);
        try {
          const r = await runVariant(ctx, variant, round, target, { ids, indexOf, zipf, prefix, writes, recordWrite, payloadBytes });
          variants.push(r);
          ctx.log(
            `incident: ${variant}: stale reads ${r.stale.reads} (max age ${r.stale.maxAgeMs} ms), stale keys ${r.staleKeysAfterQuiescence.staleKeys}, ` +
              `read p99 burst ${r.reads.burstLatencyMs.p99} ms, save p99 burst ${r.saves.burstLatencyMs.p99} ms, PG peak ${r.postgres.peakXactsPerSecond}/s, Redis peak ${r.redis.peakOpsPerSecond}/s`,
          );
        } finally {
          await target.stop();
        }
      }
    }
  } finally {
    await deleteAccounts(prefix).catch(() => undefined);
    await deleteByPattern(redis, `bench:${ctx.runId}:*`);
    await deleteByPattern(redis, `v1:${globEscape(`{acct:${prefix}-`)}*`);
    redis.disconnect();
  }
  return {
    accounts: s.accounts,
    zipfS: s.zipfS,
    hottest1000Share: roundTo(zipf.topShare(1000), 4),
    load: {
      readsPerSecond: s.readsPerSecond,
      normalSavesPerSecond: s.normalSavesPerSecond,
      burstSavesPerSecond: s.burstSavesPerSecond,
      warmSeconds: s.warmSeconds,
      burstSeconds: s.burstSeconds,
      tailSeconds: s.tailSeconds,
      quiesceSeconds: s.quiesceSeconds,
    },
    payloadBytes,
    rounds: s.rounds,
    variants,
    byVariant: INCIDENT_VARIANTS.map((k) => variants.filter((v) => v.variant === k))
      .filter((rs) => rs.length > 0)
      .map((rs) => medianDeep(rs)),
  };
}

// ---- the targets ----

async function startBulkJob(ctx: BenchContext, strategy: LegacyStrategy, keyPrefix: string): Promise<ChildService> {
  const job = spawnNode(
    ctx,
    `bulk-job-${strategy}`,
    benchScript('baselines/bulk-job.js'),
    { BULK_STRATEGY: strategy, BULK_KEY_PREFIX: keyPrefix, BULK_REDIS_URL: benchRedisUrl, DATABASE_URL: localDatabaseUrl },
    { ipc: true },
  );
  await waitIpcReady(job);
  return job;
}

async function startLegacy(ctx: BenchContext, strategy: LegacyStrategy, keyPrefix: string, ttlSeconds: number): Promise<Target> {
  const svc = spawnNode(
    ctx,
    `legacy-${strategy}`,
    benchScript('baselines/legacy-server.js'),
    { LEGACY_STRATEGY: strategy, LEGACY_KEY_PREFIX: keyPrefix, LEGACY_REDIS_URL: benchRedisUrl, LEGACY_TTL_SECONDS: String(ttlSeconds), DATABASE_URL: localDatabaseUrl },
    { ipc: true },
  );
  const port = await waitIpcReady(svc);
  const job = await startBulkJob(ctx, strategy, keyPrefix);
  const clients = [client(port), client(port)];
  await Promise.all(clients.map((c) => waitForChannel(c)));
  const redis = benchRedis();
  return {
    clients,
    async appCounters() {
      const [c, j] = await Promise.all([ipcCall<LegacyCounters>(svc, 'stats', {}, 5000), ipcCall<LegacyCounters>(job, 'stats', {}, 5000)]);
      return { redis: c.redisCommands + j.redisCommands, pg: c.pgQueries + j.pgQueries, hits: c.hits, lookups: c.reads };
    },
    bulk: (likePattern, displayName, outFile) => ipcCall<BulkResult>(job, 'bulkSave', { likePattern, displayName, outFile }),
    settle: async () => undefined,
    async cachedVersions(ids) {
      const out = new Map<string, number>();
      for (let i = 0; i < ids.length; i += 1000) {
        const chunk = ids.slice(i, i + 1000);
        const vals = await redis.mgetBuffer(...chunk.map((id) => `${keyPrefix}acct:${id}`));
        vals.forEach((b, j) => {
          if (b) out.set(chunk[j]!, Number(AccountSettings.decode(b).etag));
        });
      }
      return out;
    },
    async stop() {
      clients.forEach((c) => c.close());
      await svc.stop();
      await job.stop();
      await deleteByPattern(redis, `${globEscape(keyPrefix)}*`);
      redis.disconnect();
    },
  };
}

async function startThisSystem(ctx: BenchContext, accountPrefix: string, round: number): Promise<Target> {
  const group = `${accountPrefix}-r${round}-invalidator`;
  // Earlier variants' bulk updates must be through Debezium before this group is positioned.
  await positionGroupAtEnd(group);
  const inv = await startInvalidatorProcess(ctx, `incident-invalidator-r${round}`, group);
  let settings: ChildService & { grpcPort: number; metricsPort: number };
  try {
    settings = await startSettingsProcess(ctx, `incident-settings-r${round}`);
  } catch (err) {
    await inv.stop();
    throw err;
  }
  // A backfill straight to PostgreSQL (no cache code at all): the invalidator sees it in the WAL.
  const job = await startBulkJob(ctx, 'ttl-only', `bench:${ctx.runId}:unused:`);
  const clients = [client(settings.grpcPort), client(settings.grpcPort)];
  await Promise.all(clients.map((c) => waitForChannel(c)));
  const redis = benchRedis();
  return {
    clients,
    async appCounters() {
      const [m, i, j] = await Promise.all([scrape(settings.metricsPort), scrape(inv.httpPort), ipcCall<LegacyCounters>(job, 'stats', {}, 5000)]);
      const lookups = m.get('settings_cache_requests_total') ?? 0;
      const fills = m.get('settings_cache_fills_total') ?? 0;
      // Per read: GET of the key space generation + GET of the key; one EVALSHA per fill.
      return {
        redis: 2 * lookups + fills + (i.get('invalidator_redis_ops_total') ?? 0),
        pg: (m.get('settings_db_queries_total') ?? 0) + j.pgQueries,
        hits: m.get('settings_cache_requests_total{space="account-settings",result="hit"}') ?? 0,
        lookups,
      };
    },
    bulk: (likePattern, displayName, outFile) => ipcCall<BulkResult>(job, 'bulkSave', { likePattern, displayName, outFile }),
    async settle(timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      await drainDebezium(timeoutMs);
      while (!(await groupCaughtUp(group)) && Date.now() < deadline) await sleep(250);
    },
    async cachedVersions(ids) {
      const out = new Map<string, number>();
      for (let i = 0; i < ids.length; i += 1000) {
        const chunk = ids.slice(i, i + 1000);
        const vals = await redis.mgetBuffer(...chunk.map((id) => cacheKeys.accountSettings(id).key));
        vals.forEach((b, j) => {
          const v = parseCacheValue(b ?? null);
          if (v?.kind === 'entry') out.set(chunk[j]!, Number(v.version));
        });
      }
      return out;
    },
    async stop() {
      clients.forEach((c) => c.close());
      await settings.stop();
      await job.stop();
      await inv.stop();
      await deleteGroups([group]);
      await deleteByPattern(redis, `v1:${globEscape(`{acct:${accountPrefix}-`)}*`);
      redis.disconnect();
    },
  };
}

// ---- one variant ----

interface WriteRec {
  v: number;
  ack: number;
  kind: 'i' | 's' | 'b';
}

interface Shared {
  ids: string[];
  indexOf: Map<string, number>;
  zipf: Zipf;
  prefix: string;
  writes: Map<number, WriteRec[]>;
  recordWrite(account: number, v: number, ack: number, kind: WriteRec['kind']): void;
  payloadBytes: { legacy: number; service: number };
}

async function runVariant(ctx: BenchContext, variant: IncidentVariant, round: number, target: Target, sh: Shared): Promise<VariantResult> {
  const s = ctx.sizes.incident;
  // Same starting line for every variant: the previous variant's bulk update is through Debezium.
  await drainDebezium();
  const redis = benchRedis();
  // Counters sampled once a second: server-wide (Redis INFO, pg_stat_database) and the app's own.
  let app = { redis: 0, pg: 0, hits: 0, lookups: 0 };
  const sampler = new Sampler(
    {
      redisCommands: async () => (await redisCounters(redis)).commands,
      redisCpu: async () => (await redisCounters(redis)).cpuSeconds,
      pgXacts: () => xactCommits(),
      appRedis: async () => (app = await target.appCounters()).redis,
      appPg: () => app.pg,
    },
    1000,
  ).start();
  // Background before any load (other users of the shared stack, Debezium heartbeats).
  await sleep(3000);
  const bgEnd = Date.now();

  // The harness's own event-loop delay, per second: a stalled load generator would fake latency.
  const loopDelay: number[] = [];
  const eld = monitorEventLoopDelay({ resolution: 10 });
  eld.enable();
  const eldTimer = setInterval(() => {
    loopDelay.push(eld.max / 1e6);
    eld.reset();
  }, 1000);
  const reads: ReadRec[] = [];
  const saves: Array<{ start: number; latency: number; ok: boolean; timeout: boolean }> = [];
  const totalMs = (s.warmSeconds + s.burstSeconds + s.tailSeconds) * 1000;
  const t0 = Date.now();
  const burstStart = t0 + s.warmSeconds * 1000;
  const burstEnd = burstStart + s.burstSeconds * 1000;
  const readRand = prng(1000 + round);
  const saveRand = prng(2000 + round);
  let rr = 0;
  const hits0 = await target.appCounters();

  const readLoad = openLoop(
    s.readsPerSecond,
    totalMs,
    async () => {
      const account = sh.zipf.sample(readRand());
      const c = target.clients[rr++ % target.clients.length]!;
      const start = Date.now();
      const res = await getAccount(c, sh.ids[account]!, READ_DEADLINE_MS);
      const latency = Date.now() - start;
      if (res.ok && res.value && sh.payloadBytes[variant === 'this-system' ? 'service' : 'legacy'] === 0) {
        sh.payloadBytes[variant === 'this-system' ? 'service' : 'legacy'] = AccountSettings.encode(res.value).finish().length;
      }
      reads.push({ start, account, latency, version: res.ok ? Number(res.value!.etag) : -1, ok: res.ok, timeout: res.code === status.DEADLINE_EXCEEDED });
    },
    // Twice the reads a 2 s deadline can keep in flight: shedding means the target stalled.
    Math.ceil(s.readsPerSecond * (READ_DEADLINE_MS / 1000) * 2),
  );

  let saveSeq = 0;
  const saveOnce = async (): Promise<void> => {
    const account = sh.zipf.sample(saveRand());
    const c = target.clients[saveSeq % target.clients.length]!;
    const name = `r${round}-${variant}-save-${saveSeq++}`;
    const start = Date.now();
    const res = await updateDisplayName(c, sh.ids[account]!, name, SAVE_DEADLINE_MS);
    const ack = Date.now();
    if (res.ok && res.value) sh.recordWrite(account, Number(res.value.etag), ack, 's');
    saves.push({ start, latency: ack - start, ok: res.ok, timeout: res.code === status.DEADLINE_EXCEEDED });
  };
  const saveLoad = (async () => {
    await openLoop(s.normalSavesPerSecond, s.warmSeconds * 1000, saveOnce);
    await openLoop(s.burstSavesPerSecond, s.burstSeconds * 1000, saveOnce);
    await openLoop(s.normalSavesPerSecond, s.tailSeconds * 1000, saveOnce);
  })();
  const bulk = { rows: 0, statementMs: 0, startedAtS: 0, start: 0, end: 0, committedAt: 0, file: '' };
  const bulkRun = (async () => {
    await sleep(burstStart + 1000 - Date.now());
    bulk.start = Date.now();
    const result = await target.bulk(`${escapeLike(sh.prefix)}-%`, `r${round}-${variant}-bulk`, join(ctx.rawDir, `bulk-${variant}-r${round}.tsv`));
    bulk.end = Date.now();
    bulk.committedAt = result.committedAt;
    bulk.file = result.file;
    bulk.rows = result.count;
    bulk.statementMs = bulk.end - bulk.start;
    bulk.startedAtS = round1((bulk.start - t0) / 1000);
  })();
  const [readOutcome] = await Promise.all([readLoad, saveLoad, bulkRun]);
  clearInterval(eldTimer);
  eld.disable();
  const hits1 = await target.appCounters();

  // Quiescence: no traffic for at least quiesceSeconds, and (this system) until the invalidator
  // has applied every change committed so far.
  const quietStart = Date.now();
  await Promise.all([sleep(s.quiesceSeconds * 1000), target.settle(180_000)]);
  const quiesceEnd = Date.now();
  const settledAfterBulkMs = bulk.committedAt > 0 ? quiesceEnd - bulk.committedAt : Number.NaN;
  const series = await sampler.stop();
  const db = await sql<{ account_id: string; version: string }>('SELECT account_id, version::text AS version FROM account_settings WHERE account_id LIKE $1', [`${escapeLike(sh.prefix)}-%`]);
  const cached = await target.cachedVersions(db.map((r) => r.account_id));
  let staleKeys = 0;
  for (const r of db) {
    const v = cached.get(r.account_id);
    if (v !== undefined && v < Number(r.version)) staleKeys++;
  }
  redis.disconnect();

  // The bulk's versions, read only now so that parsing 100,000 rows cannot disturb the clock.
  if (bulk.file) {
    for (const line of readFileSync(bulk.file, 'utf8').split('\n')) {
      const tab = line.indexOf('\t');
      const idx = tab > 0 ? sh.indexOf.get(line.slice(0, tab)) : undefined;
      if (idx !== undefined) sh.recordWrite(idx, Number(line.slice(tab + 1)), bulk.committedAt, 'b');
    }
    rmSync(bulk.file, { force: true });
  }
  // Stale reads: a newer version had been acknowledged before the read started. The age is
  // how long before the read the first such write was acknowledged.
  const ages: number[] = [];
  const agesBySave: number[] = [];
  const agesByBulk: number[] = [];
  const staleByRead: boolean[] = [];
  for (const r of reads) {
    let stale = false;
    if (r.ok) {
      let first: WriteRec | undefined;
      for (const w of sh.writes.get(r.account) ?? []) {
        if (w.ack <= r.start && w.v > r.version && (!first || w.ack < first.ack)) first = w;
      }
      if (first) {
        stale = true;
        ages.push(r.start - first.ack);
        (first.kind === 'b' ? agesByBulk : agesBySave).push(r.start - first.ack);
      }
    }
    staleByRead.push(stale);
  }
  const agesSorted = sortedCopy(ages);
  const maxOf = (a: number[]): number => (a.length ? Math.max(...a) : 0);

  const inWindow = (t: number, a: number, b: number): boolean => t >= a && t < b;
  const readLat = (pred: (r: ReadRec) => boolean): LatencySummary => summarize(reads.filter((r) => pred(r) && (r.ok || r.timeout)).map((r) => (r.timeout ? READ_DEADLINE_MS : r.latency)));
  const saveLat = (pred: (x: { start: number }) => boolean): LatencySummary => summarize(saves.filter(pred).map((x) => (x.timeout ? SAVE_DEADLINE_MS : x.latency)));
  const overlapsBulk = (x: { start: number; latency: number }): boolean => x.start < bulk.end && x.start + x.latency > bulk.start;

  const timeline = buildTimeline(t0, totalMs + s.quiesceSeconds * 1000, reads, staleByRead, saves, series, loopDelay);
  const cpu = rateSeries(series, 'redisCpu', t0, quiesceEnd);
  return {
    variant,
    label: INCIDENT_LABELS[variant],
    round,
    reads: {
      total: reads.length,
      ok: reads.filter((r) => r.ok).length,
      errors: reads.filter((r) => !r.ok).length,
      timeouts: reads.filter((r) => r.timeout).length,
      shed: readOutcome.shed,
      latencyMs: readLat(() => true),
      burstLatencyMs: readLat((r) => inWindow(r.start, burstStart, burstEnd)),
      burstLatencyOutsideBulkMs: readLat((r) => inWindow(r.start, burstStart, burstEnd) && !overlapsBulk(r)),
    },
    saves: {
      total: saves.length,
      ok: saves.filter((x) => x.ok).length,
      errors: saves.filter((x) => !x.ok).length,
      timeouts: saves.filter((x) => x.timeout).length,
      latencyMs: saveLat(() => true),
      burstLatencyMs: saveLat((x) => inWindow(x.start, burstStart, burstEnd)),
      burstLatencyOutsideBulkMs: saveLat((x) => inWindow(x.start, burstStart, burstEnd) && !overlapsBulk(x as { start: number; latency: number })),
    },
    bulk: { rows: bulk.rows, statementMs: bulk.statementMs, startedAtS: bulk.startedAtS },
    stale: {
      reads: ages.length,
      share: reads.length ? roundTo(ages.length / reads.length, 4) : 0,
      maxAgeMs: agesSorted.length ? agesSorted[agesSorted.length - 1]! : 0,
      p99AgeMs: agesSorted.length ? percentileSorted(agesSorted, 99) : 0,
      fromSaves: { reads: agesBySave.length, maxAgeMs: maxOf(agesBySave) },
      fromBulk: { reads: agesByBulk.length, maxAgeMs: maxOf(agesByBulk) },
    },
    redis: {
      backgroundOpsPerSecond: meanRate(series, 'redisCommands', -Infinity, bgEnd),
      peakOpsPerSecond: peakRate(series, 'redisCommands', t0, quiesceEnd),
      peakCpuPercent: cpu.length ? Math.round(Math.max(...cpu.map((x) => x.rate)) * 100) : Number.NaN,
      appCommandsPeakPerSecond: peakRate(series, 'appRedis', t0, quiesceEnd),
      appCommandsTotal: Math.round(hits1.redis - hits0.redis),
    },
    postgres: {
      backgroundXactsPerSecond: meanRate(series, 'pgXacts', -Infinity, bgEnd),
      // pg_stat counters are flushed at most once a second per backend: peaks use 2 s windows.
      peakXactsPerSecond: peakWindowRate(series, 'pgXacts', t0, quiesceEnd, 2),
      appQueriesPeakPerSecond: peakRate(series, 'appPg', t0, quiesceEnd),
      appQueriesTotal: Math.round(hits1.pg - hits0.pg),
    },
    cacheHitRatio: hits1.lookups > hits0.lookups ? roundTo((hits1.hits - hits0.hits) / (hits1.lookups - hits0.lookups), 4) : Number.NaN,
    staleKeysAfterQuiescence: { cachedKeys: cached.size, staleKeys, quiesceSeconds: roundTo((quiesceEnd - quietStart) / 1000, 1), checkedAfterBulkCommitMs: settledAfterBulkMs },
    timeline,
  };
}

const round1 = (x: number): number => Math.round(x * 10) / 10;

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

function buildTimeline(
  t0: number,
  spanMs: number,
  reads: ReadRec[],
  staleByRead: boolean[],
  saves: Array<{ start: number; latency: number; timeout: boolean }>,
  series: Series,
  loopDelay: number[],
): TimelinePoint[] {
  const secs = Math.ceil(spanMs / 1000);
  const readLat: number[][] = Array.from({ length: secs }, () => []);
  const saveLat: number[][] = Array.from({ length: secs }, () => []);
  const stale = new Array<number>(secs).fill(0);
  reads.forEach((r, i) => {
    const b = Math.floor((r.start - t0) / 1000);
    if (b < 0 || b >= secs) return;
    if (r.ok || r.timeout) readLat[b]!.push(r.timeout ? READ_DEADLINE_MS : r.latency);
    if (staleByRead[i]) stale[b]!++;
  });
  for (const x of saves) {
    const b = Math.floor((x.start - t0) / 1000);
    if (b >= 0 && b < secs) saveLat[b]!.push(x.timeout ? SAVE_DEADLINE_MS : x.latency);
  }
  const redisRates = rateSeries(series, 'redisCommands', t0 - 1000, t0 + spanMs + 1000);
  const pgRates = rateSeries(series, 'pgXacts', t0 - 1000, t0 + spanMs + 1000);
  const at = (rates: Array<{ t: number; rate: number }>, sec: number): number => {
    const mid = t0 + sec * 1000 + 500;
    let best: { t: number; rate: number } | undefined;
    for (const r of rates) if (!best || Math.abs(r.t - mid) < Math.abs(best.t - mid)) best = r;
    return best ? Math.round(best.rate) : 0;
  };
  return Array.from({ length: secs }, (_, sec) => ({
    s: sec,
    reads: readLat[sec]!.length,
    readP99Ms: readLat[sec]!.length ? roundTo(percentileSorted(sortedCopy(readLat[sec]!), 99), 1) : 0,
    staleReads: stale[sec]!,
    saveP99Ms: saveLat[sec]!.length ? roundTo(percentileSorted(sortedCopy(saveLat[sec]!), 99), 1) : 0,
    redisOps: at(redisRates, sec),
    pgXacts: at(pgRates, sec),
    harnessLoopDelayMs: roundTo(loopDelay[sec] ?? 0, 1),
  }));
}
