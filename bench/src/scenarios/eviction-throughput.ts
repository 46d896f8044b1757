import { execFile } from 'node:child_process';
import type { BenchContext } from '../context';
import { BENCH_REDIS_DB } from '../context';
import { createAccounts, deleteAccounts, escapeLike, sql } from '../db';
import { commitGroupOffsets, deleteGroups, drainDebezium, topicEnds } from '@settings/local-stack';
import { measureInvalidatorDrain } from '../invalidator-drain';
import { benchRedis, deleteByPattern, globEscape } from '../redis-util';
import { localStack } from '@settings/shared';
import { median, ratio, round as roundTo } from '../stats';

export interface EvictionRound {
  round: number;
  /** Distinct keys the invalidator applied per second while draining the backlog (ceiling off). */
  invalidatorKeysPerSecond: number;
  /** Change events consumed per second over the same window. */
  invalidatorEventsPerSecond: number;
  /** CPU of the invalidator process per change event over the drain window. */
  invalidatorCpuMicrosPerEvent: number;
  drainSeconds: number;
  redisBenchmarkSetPerSecond: number;
  ratio: number;
}

export interface EvictionResult {
  rows: number;
  /** How fast Debezium published the bulk update's change events (events/s, commit → last event in Kafka). */
  debeziumEventsPerSecond: number;
  redisBenchmarkCommand: string;
  rounds: EvictionRound[];
  median: { invalidatorKeysPerSecond: number; redisBenchmarkSetPerSecond: number; ratio: number };
}

function redisBenchmark(requests: number): Promise<{ setPerSecond: number; command: string }> {
  const args = ['-h', '127.0.0.1', '-p', String(localStack.redisPort), '--dbnum', String(BENCH_REDIS_DB), '-t', 'set', '-P', '16', '-n', String(requests), '-q'];
  return new Promise((resolve, reject) => {
    execFile('redis-benchmark', args, { timeout: 120_000 }, (err, stdout) => {
      if (err) return reject(err);
      // -q prints progress lines separated by \r, then "SET: 123456.79 requests per second, p50=... msec".
      const m = /SET: ([\d.]+) requests per second/.exec(stdout);
      if (!m) return reject(new Error(`unexpected redis-benchmark output: ${stdout}`));
      resolve({ setPerSecond: Number(m[1]), command: `redis-benchmark ${args.join(' ')}` });
    });
  });
}

/**
 * Scenario 4: how fast one invalidator turns a backlog of change events into evictions with the
 * rate ceiling off (EVICTION_MAX_KEYS_PER_SECOND=0), next to what Redis itself takes from a
 * pipelined SET benchmark on the same machine, in the same run, interleaved.
 *
 * The backlog is made once (one bulk UPDATE, drained through Debezium into Kafka before any
 * measurement); each round positions a fresh consumer group just before it and clears the
 * markers of the previous round, so every round does the same work.
 */
export async function runEvictionThroughput(ctx: BenchContext): Promise<EvictionResult> {
  const { rounds, rows, redisBenchmarkRequests } = ctx.sizes.eviction;
  const prefix = `${ctx.prefix}-ev`;
  const redis = benchRedis();
  const groups: string[] = [];
  const out: EvictionRound[] = [];
  let debeziumEventsPerSecond = Number.NaN;
  let command = '';
  try {
    ctx.log(`eviction: creating ${rows} accounts`);
    await createAccounts(prefix, rows);
    await drainDebezium();
    const before = await topicEnds();
    const t0 = Date.now();
    await sql(`UPDATE account_settings SET display_name = display_name || '.' WHERE account_id LIKE $1`, [`${escapeLike(prefix)}-%`]);
    await drainDebezium();
    debeziumEventsPerSecond = Math.round(rows / ((Date.now() - t0) / 1000));
    ctx.log(`eviction: ${rows} change events in Kafka (Debezium ~${debeziumEventsPerSecond} events/s)`);

    for (let round = 1; round <= rounds; round++) {
      await deleteByPattern(redis, `v1:${globEscape(`{acct:${prefix}-`)}*`);
      const group = `${prefix}-inv-${round}`;
      groups.push(group);
      await commitGroupOffsets(group, before);
      const drain = await measureInvalidatorDrain(ctx, `eviction-invalidator-${round}`, group, rows, { EVICTION_MAX_KEYS_PER_SECOND: '0' });
      ctx.log(`eviction: round ${round}: drained in ${drain.drainSeconds} s`);
      const { keysPerSecond, eventsPerSecond, drainSeconds: secs } = drain;
      const rb = await redisBenchmark(redisBenchmarkRequests);
      command = rb.command;
      await redis.del('key:__rand_int__');
      out.push({
        round,
        invalidatorKeysPerSecond: keysPerSecond,
        invalidatorEventsPerSecond: eventsPerSecond,
        invalidatorCpuMicrosPerEvent: drain.cpuMicrosPerEvent,
        drainSeconds: roundTo(secs, 2),
        redisBenchmarkSetPerSecond: Math.round(rb.setPerSecond),
        ratio: ratio(keysPerSecond, rb.setPerSecond),
      });
      ctx.log(`eviction: round ${round}: invalidator ${keysPerSecond} keys/s, redis-benchmark SET ${Math.round(rb.setPerSecond)}/s`);
    }
  } finally {
    await deleteGroups(groups);
    await deleteAccounts(prefix);
    await deleteByPattern(redis, `v1:${globEscape(`{acct:${prefix}-`)}*`);
    redis.disconnect();
  }
  return {
    rows,
    debeziumEventsPerSecond,
    redisBenchmarkCommand: command,
    rounds: out,
    median: {
      invalidatorKeysPerSecond: median(out.map((r) => r.invalidatorKeysPerSecond)),
      redisBenchmarkSetPerSecond: median(out.map((r) => r.redisBenchmarkSetPerSecond)),
      ratio: median(out.map((r) => r.ratio)),
    },
  };
}
