import type { BenchContext } from '../context';
import { accountId, createAccounts, deleteAccounts } from '../db';
import { client, getAccount, waitForChannel } from '../grpc-util';
import { scrape, startSettingsProcess, type SettingsProc } from '../procs';
import { benchRedis, deleteAccountKeys } from '../redis-util';
import { round } from '../stats';

export interface ColdStartRun {
  variant: 'fill-lease' | 'no-lease';
  replicas: number;
  distinctKeys: number;
  reads: number;
  failedReads: number;
  /** Failed reads by gRPC status code and message (first seen). */
  failures: Record<string, number>;
  /** Sum over replicas of settings_db_keys_read_total{kind="account_settings.read"} during the run. */
  postgresReads: number;
  /** The queries those keys were read with (settings_db_queries_total, same kind). */
  postgresQueries?: number;
  /** postgresReads ÷ distinctKeys (target ≤ 1.05 with leases). */
  readsPerKey: number;
  leases: { acquired: number; filledByOther: number; gaveUp: number; redisError: number };
  seconds: number;
}

export interface ColdStartResult {
  replicas: number;
  keysPerRun: number;
  concurrency: number;
  runs: ColdStartRun[];
}

// Keys read, not queries: concurrent misses share one query (batched-load.ts), and what the
// goal counts is how often one key's row was read.
const DB_READS = 'settings_db_keys_read_total{kind="account_settings.read"}';
const DB_QUERIES = 'settings_db_queries_total{kind="account_settings.read"}';
const lease = (result: string): string => `settings_fill_leases_total{space="account-settings",result="${result}"}`;

/**
 * Cold start of three replicas under the same read load: three settings processes (own Redis
 * connections, pools, single-flight, as three pods) start against keys no one has cached, and
 * every key is read on all three at the same moment (a client spreading the same traffic over the
 * replicas), `concurrency` keys at a time. Counted: PostgreSQL reads per distinct key, with fill
 * leases (the default) and without them (FILL_LEASE_MS=0, the control), each on its own fresh keys.
 */
export async function runColdStart(ctx: BenchContext): Promise<ColdStartResult> {
  const replicas = 3;
  const keys = ctx.quick ? 300 : 2000;
  const concurrency = 16;
  const runs: ColdStartRun[] = [];
  for (const variant of ['fill-lease', 'no-lease'] as const) runs.push(await oneRun(ctx, variant, replicas, keys, concurrency));
  return { replicas, keysPerRun: keys, concurrency, runs };
}

async function oneRun(ctx: BenchContext, variant: ColdStartRun['variant'], replicas: number, keys: number, concurrency: number): Promise<ColdStartRun> {
  const prefix = `${ctx.prefix}-cs${variant === 'fill-lease' ? 'l' : 'n'}`;
  const redis = benchRedis();
  const procs: SettingsProc[] = [];
  try {
    await createAccounts(prefix, keys);
    const env: Record<string, string> = variant === 'no-lease' ? { FILL_LEASE_MS: '0' } : {};
    for (let i = 0; i < replicas; i++) procs.push(await startSettingsProcess(ctx, `cold-start-${variant}-${i}`, env));
    const clients = procs.map((p) => client(p.grpcPort));
    await Promise.all(clients.map((c) => waitForChannel(c)));
    const before = await Promise.all(procs.map((p) => scrape(p.metricsPort)));
    const t0 = Date.now();
    let next = 0;
    let failed = 0;
    const failures: Record<string, number> = {};
    const worker = async (): Promise<void> => {
      for (let i = next++; i < keys; i = next++) {
        const outcomes = await Promise.all(clients.map((c) => getAccount(c, accountId(prefix, i), 10_000)));
        for (const o of outcomes.filter((x) => !x.ok)) {
          failed += 1;
          const what = `${o.code}: ${o.message ?? ''}`.slice(0, 120);
          failures[what] = (failures[what] ?? 0) + 1;
        }
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    const seconds = (Date.now() - t0) / 1000;
    const after = await Promise.all(procs.map((p) => scrape(p.metricsPort)));
    const delta = (name: string): number => after.reduce((sum, m, i) => sum + (m.get(name) ?? 0) - (before[i]!.get(name) ?? 0), 0);
    clients.forEach((c) => c.close());
    const postgresReads = delta(DB_READS);
    ctx.log(`cold-start ${variant}: ${keys} keys × ${replicas} replicas, ${postgresReads} PostgreSQL reads (${round(postgresReads / keys, 3)} per key), ${failed} failed reads, ${seconds.toFixed(1)} s`);
    return {
      variant,
      replicas,
      distinctKeys: keys,
      reads: keys * replicas,
      failedReads: failed,
      failures,
      postgresReads,
      postgresQueries: delta(DB_QUERIES),
      // Unrounded: judged against ≤ 1.05 (a rounded 1.0504 would read as met).
      readsPerKey: postgresReads / keys,
      leases: { acquired: delta(lease('acquired')), filledByOther: delta(lease('filled_by_other')), gaveUp: delta(lease('gave_up')), redisError: delta(lease('redis_error')) },
      seconds: round(seconds, 2),
    };
  } finally {
    await Promise.all(procs.map((p) => p.stop()));
    await deleteAccounts(prefix);
    await deleteAccountKeys(redis, prefix);
    redis.disconnect();
  }
}
