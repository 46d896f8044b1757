import { invalidatorEnvSchema } from '@settings/invalidator';
import { cacheKeys, parseCacheValue } from '@settings/shared';
import type { BenchContext } from '../context';
import { sleep } from '../context';
import { accountId, createAccounts, deleteAccounts, sql } from '../db';
import { deleteGroups, positionGroupAtEnd } from '@settings/local-stack';
import { ChangeTap, type TappedChange } from '../change-tap';
import { openLoop } from '../load';
import { startInvalidatorProcess, type InvalidatorProc } from '../procs';
import { benchRedis, deleteAccountKeys } from '../redis-util';
import { median, summarize, type LatencySummary } from '../stats';

export interface LagRun {
  /** 0 = the warm-up at the top rate (reported, not in the medians). */
  round: number;
  targetWritesPerSecond: number;
  achievedWritesPerSecond: number;
  writes: number;
  /** Writes whose marker was never seen within the wait (should be 0). */
  notEvicted: number;
  /** Writes whose change event was not seen on the tap. */
  notTapped: number;
  commitToKafkaMs: LatencySummary;
  kafkaToEvictedMs: LatencySummary;
  commitToEvictedMs: LatencySummary;
}

export interface LagResult {
  pollIntervalMs: number;
  /** The invalidator runs with its defaults: adaptive ceiling up to this hard maximum (keys/s). */
  invalidatorMaxKeysPerSecond: number;
  /** Seconds of the unmeasured warm-up at the top rate before round 1 (its run is round 0). */
  warmupSeconds: number;
  runs: LagRun[];
  /** Per target rate: medians over rounds 1.. of each percentile (the warm-up left out). */
  byRate: Array<{
    writesPerSecond: number;
    commitToKafka: { p50: number; p95: number; p99: number };
    kafkaToEvicted: { p50: number; p95: number; p99: number };
    commitToEvicted: { p50: number; p95: number; p99: number };
    achievedWritesPerSecond: number;
  }>;
}

interface WriteRec {
  account: string;
  key: string;
  version: bigint;
  ackMs: number;
  evictedMs?: number;
}

const POLL_MS = 5;

/**
 * Scenario 2: commit → key evicted, end to end through Debezium, Kafka and a real invalidator
 * (its own consumer group, positioned at the topic end), at steady write rates. Every write's
 * key is polled in Redis (MGET) until a marker at or above the write's version appears; a tap
 * consumer reads the same change events to split the lag at the Kafka record timestamp. A
 * warm-up at the top rate (round 0) runs first and is reported, not counted in the medians.
 */
export async function runInvalidationLag(ctx: BenchContext): Promise<LagResult> {
  const { rounds, rates, seconds, accounts, warmupSeconds } = ctx.sizes.lag;
  const prefix = `${ctx.prefix}-lag`;
  const redis = benchRedis();
  const groups: string[] = [];
  let inv: InvalidatorProc | undefined;
  let tap: ChangeTap | undefined;
  const runs: LagRun[] = [];
  try {
    ctx.log(`lag: creating ${accounts} accounts`);
    await createAccounts(prefix, accounts);
    const group = `${prefix}-invalidator`;
    groups.push(group);
    await positionGroupAtEnd(group, { drainFirst: true });
    inv = await startInvalidatorProcess(ctx, 'lag-invalidator', group);
    const tapped = new Map<string, TappedChange>();
    tap = new ChangeTap(`${prefix}-tap`, prefix, (c) => tapped.set(`${c.accountId}:${c.version}`, c));
    await tap.start();
    await sleep(1000);

    let next = 0;
    // Round 0 warms up at the top rate: the fresh invalidator process, and Kafka Connect on a
    // freshly started stack, compile their change-event paths while they first run them, which
    // put the first seconds' tail in whichever round came first (e.g. 100 writes/s p99 417 ms
    // in round 1 against 65 ms in round 2 of one run). Reported beside the rounds, not in the medians.
    const schedule: Array<{ round: number; rate: number; runSeconds: number }> = [];
    if (warmupSeconds > 0) schedule.push({ round: 0, rate: Math.max(...rates), runSeconds: warmupSeconds });
    for (let round = 1; round <= rounds; round++) for (const rate of rates) schedule.push({ round, rate, runSeconds: seconds });
    for (const { round, rate, runSeconds } of schedule) {
      ctx.log(round === 0 ? `lag: warm-up, ${rate} writes/s for ${runSeconds} s (not in the medians)` : `lag: round ${round}/${rounds}, ${rate} writes/s for ${runSeconds} s`);
      const writes: WriteRec[] = [];
      const pending = new Set<WriteRec>();
      let polling = true;
      const poller = (async () => {
        while (polling || pending.size > 0) {
          const batch = [...pending];
          for (let i = 0; i < batch.length; i += 500) {
            const chunk = batch.slice(i, i + 500);
            const values = await redis.mgetBuffer(...chunk.map((w) => w.key));
            const now = Date.now();
            chunk.forEach((w, j) => {
              const v = parseCacheValue(values[j] ?? null);
              if (v && (v.kind === 'marker' ? v.floor >= w.version : v.version >= w.version)) {
                w.evictedMs = now;
                pending.delete(w);
              }
            });
          }
          await sleep(POLL_MS);
          if (!polling && batch.length > 0 && Date.now() - batch[0]!.ackMs > 60_000) break;
        }
      })();
      const started = Date.now();
      await openLoop(rate, runSeconds * 1000, async () => {
        const account = accountId(prefix, next++ % accounts);
        const rows = await sql<{ version: string }>('UPDATE account_settings SET display_name = $2 WHERE account_id = $1 RETURNING version::text AS version', [account, `lag ${next}`]);
        const w: WriteRec = { account, key: cacheKeys.accountSettings(account).key, version: BigInt(rows[0]!.version), ackMs: Date.now() };
        writes.push(w);
        pending.add(w);
      });
      const elapsed = (Date.now() - started) / 1000;
      polling = false;
      await poller;
      // The tap may trail the invalidator slightly; give it a moment.
      const tapDeadline = Date.now() + 10_000;
      while (Date.now() < tapDeadline && writes.some((w) => !tapped.has(`${w.account}:${w.version}`))) await sleep(100);

      const c2k: number[] = [];
      const k2e: number[] = [];
      const c2e: number[] = [];
      let notTapped = 0;
      for (const w of writes) {
        const t = tapped.get(`${w.account}:${w.version}`);
        if (!t) notTapped++;
        if (t) c2k.push(t.kafkaMs - t.commitMs);
        if (w.evictedMs === undefined) continue;
        if (t) {
          k2e.push(w.evictedMs - t.kafkaMs);
          c2e.push(w.evictedMs - t.commitMs);
        }
      }
      runs.push({
        round,
        targetWritesPerSecond: rate,
        achievedWritesPerSecond: Math.round(writes.length / elapsed),
        writes: writes.length,
        notEvicted: writes.filter((w) => w.evictedMs === undefined).length,
        notTapped,
        commitToKafkaMs: summarize(c2k),
        kafkaToEvictedMs: summarize(k2e),
        commitToEvictedMs: summarize(c2e),
      });
      const last = runs[runs.length - 1]!;
      ctx.log(`lag: ${rate}/s → commit→evicted p50 ${last.commitToEvictedMs.p50} ms, p99 ${last.commitToEvictedMs.p99} ms (${last.notEvicted} not evicted)`);
    }
  } finally {
    await tap?.stop().catch(() => undefined);
    await inv?.stop();
    await deleteGroups(groups);
    await deleteAccounts(prefix);
    await deleteAccountKeys(redis, prefix);
    redis.disconnect();
  }
  const pick = (rs: LagRun[], f: (r: LagRun) => LatencySummary) => ({
    p50: median(rs.map((r) => f(r).p50)),
    p95: median(rs.map((r) => f(r).p95)),
    p99: median(rs.map((r) => f(r).p99)),
  });
  return {
    pollIntervalMs: POLL_MS,
    // The invalidator it starts runs with the default ceiling.
    invalidatorMaxKeysPerSecond: invalidatorEnvSchema.EVICTION_MAX_KEYS_PER_SECOND.default ?? Number.NaN,
    runs,
    warmupSeconds,
    byRate: rates.map((rate) => {
      const rs = runs.filter((r) => r.round > 0 && r.targetWritesPerSecond === rate);
      return {
        writesPerSecond: rate,
        commitToKafka: pick(rs, (r) => r.commitToKafkaMs),
        kafkaToEvicted: pick(rs, (r) => r.kafkaToEvictedMs),
        commitToEvicted: pick(rs, (r) => r.commitToEvictedMs),
        achievedWritesPerSecond: median(rs.map((r) => r.achievedWritesPerSecond)),
      };
    }),
  };
}
