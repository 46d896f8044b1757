import { changeTopic, cacheKeys, localStack, parseCacheValue } from '@settings/shared';
import { deleteGroups, drainDebezium, positionGroupAtEnd, withAdmin } from '@settings/local-stack';
import type { BenchContext } from '../context';
import { sleep } from '../context';
import { accountId, createAccounts, deleteAccounts, escapeLike, sql } from '../db';
import { status } from '@grpc/grpc-js';
import { client, getAccount } from '../grpc-util';
import { AutogroupWeights, CDC_PIPELINE_ROLES, CDC_YIELD_NICE } from '../autogroup-weights';
import { openLoop } from '../load';
import { CpuMeter, type CpuRole } from '../process-cpu';
import { scrape, startInvalidatorProcess, startSettingsProcess, type InvalidatorProc, type SettingsProc } from '../procs';
import { benchRedis, deleteAccountKeys } from '../redis-util';
import { round as roundTo } from '../stats';
import { BULK_READ_DEADLINE_MS, readWindow, withBulkDrainMedians, type BulkDrainResult, type BulkDrainRound, type BulkRead } from './bulk-drain-result';

export type { BulkDrainMedians, BulkDrainResult, BulkDrainRound, CpuMicrosPerRow, ReadFailures } from './bulk-drain-result';

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
      // Every read, failed or not: a timed-out read counts at its deadline, other failures are counted.
      const reads: BulkRead[] = [];
      let reading = true;
      let n = 0;
      const readers = openLoop(readsPerSecond, 3_600_000, async () => {
        const t = performance.now();
        const r = await getAccount(c, accountId(hotPrefix, n++ % hotAccounts), BULK_READ_DEADLINE_MS);
        reads.push({ at: Date.now(), ms: performance.now() - t, ok: r.ok, timeout: r.code === status.DEADLINE_EXCEEDED });
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
      // The seconds before the UPDATE began: the window ending at its commit held the UPDATE
      // itself (1.5-2 s of a 100k-row statement), whose load is not the baseline.
      const baselineReads = readWindow(reads, updateStarted - baselineSeconds * 1000, updateStarted);
      const drainReads = readWindow(reads, committedAt, evictedAt);
      const invalidatorOnlyReads = readWindow(reads, publishedAt, evictedAt);
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
        baselineReadMs: baselineReads.latency,
        drainReadMs: drainReads.latency,
        invalidatorOnlyReadMs: invalidatorOnlyReads.latency,
        readFailures: { baseline: baselineReads.failures, drain: drainReads.failures, invalidatorOnly: invalidatorOnlyReads.failures },
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
          `cached-read p99 ${r.baselineReadMs.p99} → ${r.drainReadMs.p99} ms over ${r.baselineReadMs.count} / ${r.drainReadMs.count} reads (invalidator alone: ${r.invalidatorOnlyReadMs.p99} ms over ${r.invalidatorOnlyReadMs.count} reads), ` +
          `failed reads ${drainReads.failures.errors} in the drain (${drainReads.failures.timeouts} timed out), ${notEvicted} not evicted; ` +
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
  // Medians of each weighting's rounds; the read p99 ratio is the median of the per-round ratios.
  return withBulkDrainMedians({ rows, hotAccounts, readsPerSecond, invalidatorMaxKeysPerSecond: maxKeys, rounds: out });
}
