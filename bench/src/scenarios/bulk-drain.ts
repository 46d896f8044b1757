import { changeTopic, cacheKeys, localStack, parseCacheValue } from '@settings/shared';
import { deleteGroups, drainDebezium, positionGroupAtEnd, withAdmin } from '@settings/local-stack';
import type { BenchContext } from '../context';
import { sleep } from '../context';
import { accountId, createAccounts, deleteAccounts, escapeLike, sql } from '../db';
import { client, getAccount } from '../grpc-util';
import { AutogroupWeights, CDC_PIPELINE_ROLES, CDC_YIELD_NICE } from '../autogroup-weights';
import { openLoop } from '../load';
import { CpuMeter, type CpuRole } from '../process-cpu';
import { scrape, startInvalidatorProcess, startSettingsProcess, type InvalidatorProc, type SettingsProc } from '../procs';
import { benchRedis, deleteAccountKeys } from '../redis-util';
import { median, round as roundTo, summarize, type LatencySummary } from '../stats';

/** CPU per changed row, µs, by process (see BulkDrainRound.cpuMicrosPerRow). */
export interface CpuMicrosPerRow {
  connect: number;
  invalidator: number;
  postgres: number;
  /**
   * The settings service beyond what its reads cost before the commit (its CPU rate over the
   * baseline seconds, subtracted), commit → last key evicted: the near-cache's share of the
   * change — a Redis tracking push per evicted key (BCAST on the cache's prefixes). Absent in
   * results from before it was measured.
   */
  service?: number;
}

export interface BulkDrainRound {
  /**
   * 0: the warm-up round, reported but not in the medians. Kafka Connect compiles its
   * change-event path as it runs it (JIT): on a freshly started worker the first 100k events
   * cost it 1.7-3.5x the CPU of later ones (deploy/debezium/README.md), and a production worker
   * runs for days.
   */
  round: number;
  /**
   * Autogroup nice of the CDC pipeline (PostgreSQL, Kafka, Kafka Connect, the invalidator) in
   * this round: 0 = every process group weighs the same (the headline medians); 10 = the
   * pipeline yields the cores to the serving path (autogroup-weights.ts), in alternate rounds.
   */
  cdcNice: number;
  /** UPDATE statement returned → its last change event is in Kafka (end offsets moved by `rows`). */
  commitToPublishedSeconds: number;
  /** UPDATE returned → the invalidator has applied `rows` more keys. */
  commitToLastEvictedSeconds: number;
  debeziumEventsPerSecond: number;
  /** Keys applied per second from the invalidator's first to its last key of the bulk. */
  invalidatorKeysPerSecond: number;
  /** Lowest adaptive ceiling the invalidator reported during the drain (keys/s). */
  minCeilingKeysPerSecond: number;
  /** Bulk keys not fenced at their row's new version at the end (must be 0). */
  notEvicted: number;
  baselineReadMs: LatencySummary;
  drainReadMs: LatencySummary;
  /**
   * Reads from the last event in Kafka to the last key evicted: the invalidator alone works then
   * (Debezium, Kafka and the UPDATE's own load are over), so this window shows what evictions
   * cost readers, apart from the bulk change's load on the machine.
   */
  invalidatorOnlyReadMs: LatencySummary;
  /**
   * CPU per changed row, µs (user + system, all threads, from /proc): Kafka Connect from the
   * commit to the last event in Kafka, the invalidator from the commit to the last key evicted,
   * the stack's PostgreSQL (the UPDATE itself, then the walsender decoding it) from the UPDATE's
   * start to the last event in Kafka. Less noisy than the rates on a shared machine: a process
   * waiting for a core costs time, not CPU.
   */
  cpuMicrosPerRow: CpuMicrosPerRow;
}

export interface BulkDrainResult {
  rows: number;
  hotAccounts: number;
  readsPerSecond: number;
  /** The invalidator runs with its defaults: adaptive ceiling up to this hard maximum. */
  invalidatorMaxKeysPerSecond: number;
  rounds: BulkDrainRound[];
  /** Rounds with every process group at the same weight. */
  median: BulkDrainMedians;
  /**
   * Rounds in which the CDC pipeline yielded the cores (autogroup nice `cdcNice`), alternating
   * with the others; absent when the bench may not change the groups' nice (not root).
   */
  medianCdcYields?: BulkDrainMedians & { cdcNice: number };
}

export interface BulkDrainMedians {
  commitToLastEvictedSeconds: number;
  commitToPublishedSeconds: number;
  debeziumEventsPerSecond: number;
  invalidatorKeysPerSecond: number;
  baselineReadP99Ms: number;
  drainReadP99Ms: number;
  readP99Ratio: number;
  invalidatorOnlyReadP99Ms: number;
  cpuMicrosPerRow: CpuMicrosPerRow;
}

/**
 * The issue's bulk change, end to end with the default configuration: one UPDATE of `rows`
 * accounts is committed while readers hit `hotAccounts` other, cached accounts through a real
 * settings service. Measured per round: commit → last change event in Kafka (Debezium's
 * publish rate), commit → last key evicted (the invalidator's drain rate, from its own
 * counters), and the cached reads' latency during the drain against a baseline just before.
 *
 * Measured rounds alternate two CPU weightings (when the bench may change them): every process
 * group equal, as the stack starts them, and the CDC pipeline yielding to the serving path. A
 * read waits for a core during a bulk change — a do-nothing probe process was left unscheduled
 * for up to 137 ms then — and the second weighting shows how much of the drain's read p99 is
 * that wait, and what it costs the invalidation.
 */
export async function runBulkDrain(ctx: BenchContext): Promise<BulkDrainResult> {
  const { rounds, rows, hotAccounts, readsPerSecond, baselineSeconds } = ctx.sizes.bulkDrain;
  const prefix = `${ctx.prefix}-bulk`;
  const hotPrefix = `${ctx.prefix}-bulkhot`;
  const topic = changeTopic(localStack.topicPrefix, 'account_settings');
  const redis = benchRedis();
  const group = `${prefix}-invalidator`;
  let inv: InvalidatorProc | undefined;
  let svc: SettingsProc | undefined;
  const out: BulkDrainRound[] = [];
  let maxKeys = Number.NaN;
  let weights: AutogroupWeights | undefined;
  try {
    ctx.log(`bulk-drain: creating ${rows} bulk and ${hotAccounts} hot accounts`);
    await createAccounts(prefix, rows);
    await createAccounts(hotPrefix, hotAccounts);
    await positionGroupAtEnd(group, { drainFirst: true });
    inv = await startInvalidatorProcess(ctx, 'bulk-drain-invalidator', group);
    svc = await startSettingsProcess(ctx, 'bulk-drain-settings');
    const c = client(svc.grpcPort);
    // Warm the hot keys: from now on they are cache hits (the bulk never touches them).
    for (let i = 0; i < hotAccounts; i += 100) await Promise.all(Array.from({ length: Math.min(100, hotAccounts - i) }, (_, j) => getAccount(c, accountId(hotPrefix, i + j), 5000)));
    maxKeys = (await scrape(inv.httpPort)).get('invalidator_eviction_max_keys_per_second') ?? Number.NaN;
    const canReweigh = AutogroupWeights.canSetForRoles(CDC_PIPELINE_ROLES, CDC_YIELD_NICE);
    if (!canReweigh) ctx.log('bulk-drain: cannot change the autogroup nice of the CDC pipeline (not root?): equal weights only');
    const measuredRounds = canReweigh ? 2 * rounds : rounds;

    for (let round = 0; round <= measuredRounds; round++) {
      const cdcNice = canReweigh && round > 0 && round % 2 === 0 ? CDC_YIELD_NICE : 0;
      await drainDebezium();
      weights = cdcNice > 0 ? AutogroupWeights.setForRoles(CDC_PIPELINE_ROLES, cdcNice) : undefined;
      if (cdcNice > 0 && !weights) throw new Error('bulk-drain: the CDC pipeline\'s autogroup nice could not be changed any more');
      const reads: Array<{ at: number; ms: number }> = [];
      let reading = true;
      let n = 0;
      const readers = openLoop(readsPerSecond, 3_600_000, async () => {
        const t = performance.now();
        const r = await getAccount(c, accountId(hotPrefix, n++ % hotAccounts), 2000);
        if (r.ok) reads.push({ at: Date.now(), ms: performance.now() - t });
      }, 2000, () => !reading);
      const serviceCpu = new CpuMeter();
      const baselineStartedAt = Date.now();
      await sleep(baselineSeconds * 1000);
      const serviceCpuPerSecond = serviceCpu.scan().service / ((Date.now() - baselineStartedAt) / 1000);

      const endsBefore = await withAdmin('bench-bulk-drain', async (admin) => (await admin.fetchTopicOffsets(topic)).reduce((s, p) => s + Number(p.high), 0));
      const appliedBefore = (await scrape(inv.httpPort)).get('invalidator_keys_applied_total') ?? 0;
      const cpu = new CpuMeter();
      const updateStarted = Date.now();
      await sql(`UPDATE account_settings SET display_name = display_name || '.' WHERE account_id LIKE $1`, [`${escapeLike(prefix)}-%`]);
      const committedAt = Date.now();
      const cpuAtCommit = cpu.scan();
      const serviceAtCommit = serviceCpu.scan().service;
      let serviceAtEvicted = 0;
      let cpuAtPublished: Record<CpuRole, number> | undefined;
      let cpuAtEvicted: Record<CpuRole, number> | undefined;
      ctx.log(`bulk-drain: round ${round}: UPDATE of ${rows} rows took ${(committedAt - updateStarted) / 1000} s`);

      // Both ends watched at once: Kafka end offsets (Debezium done) and the invalidator's counter.
      let publishedAt: number | undefined;
      let firstAppliedAt: number | undefined;
      let evictedAt: number | undefined;
      let minCeiling = Number.POSITIVE_INFINITY;
      const deadline = committedAt + 300_000;
      await withAdmin('bench-bulk-drain', async (admin) => {
        while ((publishedAt === undefined || evictedAt === undefined) && Date.now() < deadline) {
          if (publishedAt === undefined) {
            const ends = (await admin.fetchTopicOffsets(topic)).reduce((s, p) => s + Number(p.high), 0);
            if (ends - endsBefore >= rows) {
              publishedAt = Date.now();
              cpuAtPublished = cpu.scan();
            }
          }
          const m = await scrape(inv!.httpPort);
          const applied = (m.get('invalidator_keys_applied_total') ?? 0) - appliedBefore;
          minCeiling = Math.min(minCeiling, m.get('invalidator_eviction_ceiling_keys_per_second') ?? Number.POSITIVE_INFINITY);
          if (applied > 0) firstAppliedAt ??= Date.now();
          if (applied >= rows) {
            evictedAt = Date.now();
            cpuAtEvicted = cpu.scan();
            serviceAtEvicted = serviceCpu.scan().service;
          }
          await sleep(25);
        }
      });
      if (publishedAt === undefined || evictedAt === undefined || cpuAtPublished === undefined || cpuAtEvicted === undefined) throw new Error(`bulk drain did not finish in 300 s (published: ${String(publishedAt)}, evicted: ${String(evictedAt)})`);
      const perRow = (seconds: number): number => Math.round((seconds * 1e6) / rows);
      await sleep(1000);
      reading = false;
      await readers;
      weights?.restore();
      weights = undefined;

      const versions = await sql<{ account_id: string; version: string }>('SELECT account_id, version::text AS version FROM account_settings WHERE account_id LIKE $1', [`${escapeLike(prefix)}-%`]);
      let notEvicted = 0;
      for (let i = 0; i < versions.length; i += 1000) {
        const slice = versions.slice(i, i + 1000);
        const values = await redis.mgetBuffer(...slice.map((r) => cacheKeys.accountSettings(r.account_id).key));
        slice.forEach((r, j) => {
          const v = parseCacheValue(values[j] ?? null);
          const fenced = v !== undefined && (v.kind === 'marker' ? v.floor : v.version) >= BigInt(r.version);
          if (!fenced) notEvicted++;
        });
      }
      const window = (from: number, to: number) => summarize(reads.filter((r) => r.at >= from && r.at <= to).map((r) => r.ms));
      const commitToPublished = (publishedAt - committedAt) / 1000;
      const drainSeconds = (evictedAt - (firstAppliedAt ?? committedAt)) / 1000;
      out.push({
        round,
        cdcNice,
        commitToPublishedSeconds: roundTo(commitToPublished, 2),
        commitToLastEvictedSeconds: roundTo((evictedAt - committedAt) / 1000, 2),
        debeziumEventsPerSecond: Math.round(rows / Math.max(0.001, commitToPublished)),
        invalidatorKeysPerSecond: Math.round(rows / Math.max(0.001, drainSeconds)),
        minCeilingKeysPerSecond: Number.isFinite(minCeiling) ? Math.round(minCeiling) : Number.NaN,
        notEvicted,
        baselineReadMs: window(committedAt - baselineSeconds * 1000, committedAt),
        drainReadMs: window(committedAt, evictedAt),
        invalidatorOnlyReadMs: window(publishedAt, evictedAt),
        cpuMicrosPerRow: {
          connect: perRow(cpuAtPublished['Kafka Connect'] - cpuAtCommit['Kafka Connect']),
          invalidator: perRow(cpuAtEvicted.invalidator - cpuAtCommit.invalidator),
          postgres: perRow(cpuAtPublished.PostgreSQL),
          service: perRow(Math.max(0, serviceAtEvicted - serviceAtCommit - (serviceCpuPerSecond * (evictedAt - committedAt)) / 1000)),
        },
      });
      const r = out[out.length - 1]!;
      ctx.log(
        `bulk-drain: round ${round}${cdcNice > 0 ? ` (CDC pipeline at autogroup nice ${cdcNice})` : ''}: commit→published ${r.commitToPublishedSeconds} s (${r.debeziumEventsPerSecond} events/s), commit→last evicted ${r.commitToLastEvictedSeconds} s (invalidator ${r.invalidatorKeysPerSecond} keys/s), ` +
          `cached-read p99 ${r.baselineReadMs.p99} → ${r.drainReadMs.p99} ms (invalidator alone: ${r.invalidatorOnlyReadMs.p99} ms over ${r.invalidatorOnlyReadMs.count} reads), ${notEvicted} not evicted; ` +
          `CPU per row: Connect ${r.cpuMicrosPerRow.connect} µs, invalidator ${r.cpuMicrosPerRow.invalidator} µs, PostgreSQL ${r.cpuMicrosPerRow.postgres} µs, settings service (beyond its reads) ${r.cpuMicrosPerRow.service} µs`,
      );
    }
    c.close();
  } finally {
    weights?.restore();
    await svc?.stop();
    await inv?.stop();
    await deleteGroups([group]);
    await deleteAccounts(prefix);
    await deleteAccounts(hotPrefix);
    await deleteAccountKeys(redis, prefix);
    await deleteAccountKeys(redis, hotPrefix);
    redis.disconnect();
  }
  const yielded = out.filter((r) => r.round > 0 && r.cdcNice > 0);
  return {
    rows,
    hotAccounts,
    readsPerSecond,
    invalidatorMaxKeysPerSecond: maxKeys,
    rounds: out,
    median: mediansOf(out.filter((r) => r.round > 0 && r.cdcNice === 0)),
    ...(yielded.length > 0 ? { medianCdcYields: { ...mediansOf(yielded), cdcNice: yielded[0]!.cdcNice } } : {}),
  };
}

function mediansOf(rounds: readonly BulkDrainRound[]): BulkDrainMedians {
  const med = (f: (r: BulkDrainRound) => number): number => median(rounds.map(f));
  const baselineP99 = med((r) => r.baselineReadMs.p99);
  const drainP99 = med((r) => r.drainReadMs.p99);
  return {
    commitToLastEvictedSeconds: med((r) => r.commitToLastEvictedSeconds),
    commitToPublishedSeconds: med((r) => r.commitToPublishedSeconds),
    debeziumEventsPerSecond: med((r) => r.debeziumEventsPerSecond),
    invalidatorKeysPerSecond: med((r) => r.invalidatorKeysPerSecond),
    baselineReadP99Ms: baselineP99,
    drainReadP99Ms: drainP99,
    readP99Ratio: roundTo(drainP99 / baselineP99, 2),
    invalidatorOnlyReadP99Ms: med((r) => r.invalidatorOnlyReadMs.p99),
    cpuMicrosPerRow: {
      connect: med((r) => r.cpuMicrosPerRow.connect),
      invalidator: med((r) => r.cpuMicrosPerRow.invalidator),
      postgres: med((r) => r.cpuMicrosPerRow.postgres),
      service: med((r) => r.cpuMicrosPerRow.service ?? Number.NaN),
    },
  };

}
