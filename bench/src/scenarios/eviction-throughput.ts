import { execFile } from 'node:child_process';
import type { BenchContext } from '../context';
import { BENCH_REDIS_DB } from '../context';
import { createAccounts, deleteAccounts, escapeLike, sql } from '../db';
import { commitGroupOffsets, deleteGroups, drainDebezium, topicEnds } from '@settings/local-stack';
import { measureInvalidatorDrain, replicaOffsets, type DrainRate } from '../invalidator-drain';
import { benchRedis, deleteAccountKeys, deleteByPattern } from '../redis-util';
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
  /** The same backlog drained by `replicas` invalidator processes in the same round (absent in results from before it was measured). */
  replicated?: ReplicatedDrain;
}

/** `replicas` invalidators, each on the partitions it would own in a settled consumer group. */
export interface ReplicatedDrain {
  replicas: number;
  keysPerSecond: number;
  /** CPU of all replicas together per change event. */
  cpuMicrosPerEvent: number;
  drainSeconds: number;
  /** keysPerSecond ÷ the round's redis-benchmark SET/s. */
  ratio: number;
  /** keysPerSecond ÷ the single invalidator's in the same round. */
  speedup: number;
}

export interface EvictionResult {
  rows: number;
  /** How fast Debezium published the bulk update's change events (events/s, commit → last event in Kafka). */
  debeziumEventsPerSecond: number;
  redisBenchmarkCommand: string;
  rounds: EvictionRound[];
  median: { invalidatorKeysPerSecond: number; redisBenchmarkSetPerSecond: number; ratio: number };
  /** Medians of the rounds' replicated drains (absent in results from before it was measured). */
  replicatedMedian?: { replicas: number; keysPerSecond: number; ratio: number; speedup: number };
}

/**
 * redis-benchmark's SETs go to random keys over this many (`-r`): without it every SET writes the
 * one key `key:__rand_int__`, while the invalidator writes a distinct key per change event.
 * Values, connections and pipelining stay redis-benchmark's (3-byte values, 50 connections) but
 * for `-P 16`; the report says so (report/sections/eviction-throughput.ts describeRedisBenchmark).
 */
export const REDIS_BENCHMARK_KEYSPACE = 100_000;
/** The keys `-r` makes: `key:` and 12 digits (plus `key:__rand_int__` from runs without it). */
const REDIS_BENCHMARK_KEYS = `key:${'[0-9]'.repeat(12)}`;

function redisBenchmark(requests: number): Promise<{ setPerSecond: number; command: string }> {
  const args = ['-h', '127.0.0.1', '-p', String(localStack.redisPort), '--dbnum', String(BENCH_REDIS_DB), '-t', 'set', '-P', '16', '-r', String(REDIS_BENCHMARK_KEYSPACE), '-n', String(requests), '-q'];
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
 *
 * Each round also drains the same backlog with `replicas` invalidators side by side (the order of
 * the two alternates by round): what scaling out buys on this machine, where the replicas share
 * its cores with Redis and Kafka.
 */
export async function runEvictionThroughput(ctx: BenchContext): Promise<EvictionResult> {
  const { rounds, rows, redisBenchmarkRequests, replicas } = ctx.sizes.eviction;
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
    const after = await topicEnds();
    ctx.log(`eviction: ${rows} change events in Kafka (Debezium ~${debeziumEventsPerSecond} events/s)`);

    const clearMarkers = (): Promise<unknown> => deleteAccountKeys(redis, prefix);
    const ceilingOff = { EVICTION_MAX_KEYS_PER_SECOND: '0' };
    for (let round = 1; round <= rounds; round++) {
      const drainOne = async (): Promise<DrainRate> => {
        await clearMarkers();
        const group = `${prefix}-inv-${round}`;
        groups.push(group);
        await commitGroupOffsets(group, before);
        const d = await measureInvalidatorDrain(ctx, `eviction-invalidator-${round}`, group, rows, ceilingOff);
        ctx.log(`eviction: round ${round}: one invalidator drained it in ${d.drainSeconds} s`);
        return d;
      };
      const drainReplicated = async (): Promise<DrainRate | undefined> => {
        if (replicas < 2) return undefined;
        await clearMarkers();
        const replicaGroups = Array.from({ length: replicas }, (_, i) => `${prefix}-inv-${round}-r${i + 1}`);
        groups.push(...replicaGroups);
        for (const [i, g] of replicaGroups.entries()) await commitGroupOffsets(g, replicaOffsets(before, after, i, replicas));
        const d = await measureInvalidatorDrain(ctx, `eviction-invalidators-${round}`, replicaGroups, rows, ceilingOff);
        ctx.log(`eviction: round ${round}: ${replicas} invalidators drained it in ${d.drainSeconds} s`);
        return d;
      };
      let drain: DrainRate;
      let replicatedDrain: DrainRate | undefined;
      if (round % 2 === 1) {
        drain = await drainOne();
        replicatedDrain = await drainReplicated();
      } else {
        replicatedDrain = await drainReplicated();
        drain = await drainOne();
      }
      const { keysPerSecond, eventsPerSecond, drainSeconds: secs } = drain;
      const rb = await redisBenchmark(redisBenchmarkRequests);
      command = rb.command;
      await redis.del('key:__rand_int__');
      await deleteByPattern(redis, REDIS_BENCHMARK_KEYS);
      out.push({
        round,
        invalidatorKeysPerSecond: keysPerSecond,
        invalidatorEventsPerSecond: eventsPerSecond,
        invalidatorCpuMicrosPerEvent: drain.cpuMicrosPerEvent,
        drainSeconds: roundTo(secs, 2),
        redisBenchmarkSetPerSecond: Math.round(rb.setPerSecond),
        ratio: ratio(keysPerSecond, rb.setPerSecond),
        ...(replicatedDrain && {
          replicated: {
            replicas,
            keysPerSecond: replicatedDrain.keysPerSecond,
            cpuMicrosPerEvent: replicatedDrain.cpuMicrosPerEvent,
            drainSeconds: roundTo(replicatedDrain.drainSeconds, 2),
            ratio: ratio(replicatedDrain.keysPerSecond, rb.setPerSecond),
            speedup: ratio(replicatedDrain.keysPerSecond, keysPerSecond),
          },
        }),
      });
      ctx.log(
        `eviction: round ${round}: invalidator ${keysPerSecond} keys/s${replicatedDrain ? `, ${replicas} invalidators ${replicatedDrain.keysPerSecond} keys/s` : ''}, redis-benchmark SET ${Math.round(rb.setPerSecond)}/s`,
      );
    }
  } finally {
    await deleteGroups(groups);
    await deleteAccounts(prefix);
    await deleteAccountKeys(redis, prefix);
    await deleteByPattern(redis, REDIS_BENCHMARK_KEYS);
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
    ...(replicas >= 2 && {
      replicatedMedian: {
        replicas,
        keysPerSecond: median(out.map((r) => r.replicated?.keysPerSecond ?? Number.NaN)),
        ratio: median(out.map((r) => r.replicated?.ratio ?? Number.NaN)),
        speedup: median(out.map((r) => r.replicated?.speedup ?? Number.NaN)),
      },
    }),
  };
}
