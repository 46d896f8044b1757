import { performance } from 'node:perf_hooks';
import Redis from 'ioredis';
import { cacheKeys, createLogger, withCacheScripts } from '@settings/shared';
import { loadSettingsConfig, startSettingsServer, type RunningSettingsServer } from '@settings/settings-service';
import { benchRedisUrl, type BenchContext } from '../context';
import { accountId, createAccounts, deleteAccounts, sql } from '../db';
import { client, getAccount, waitForChannel } from '../grpc-util';
import { benchRedis, deleteAccountKeys } from '../redis-util';
import { summarize, type LatencySummary } from '../stats';

export interface L1CoherenceResult {
  keys: number;
  /** Marker write sent → the replica's near-cache entry for the key dropped, ms. */
  markerToL1Gone: LatencySummary;
  /** Entries still in the near-cache 5 s after their marker (must be 0). */
  notDropped: number;
  /** Keys that were in the near-cache before their marker (all of them, or the run is not valid). */
  warmedInL1: number;
}

/**
 * How fast a replica's near-cache (L1) lets go of an entry once the invalidator's marker is in
 * Redis. A settings server runs in this process (so the moment its L1 drops the entry is seen on
 * the same clock as the write); every key is first served from L1, then the invalidator's own
 * script (evictToMarker, as the invalidator calls it after a row change) writes the marker from
 * another connection, and the time until Redis' invalidation push has removed the L1 entry is
 * recorded. One marker at a time, 2 ms apart.
 */
export async function runL1Coherence(ctx: BenchContext): Promise<L1CoherenceResult> {
  const keys = ctx.quick ? 200 : 2000;
  const prefix = `${ctx.prefix}-l1`;
  const admin = withCacheScripts(new Redis(benchRedisUrl, { maxRetriesPerRequest: 1 }));
  const redis = benchRedis();
  let server: RunningSettingsServer | undefined;
  try {
    await createAccounts(prefix, keys);
    const config = loadSettingsConfig({
      SETTINGS_LOCAL_STACK: '1',
      REDIS_URL: benchRedisUrl,
      GRPC_HOST: '127.0.0.1',
      GRPC_PORT: '0',
      METRICS_PORT: '0',
      AUTH_MODE: 'insecure-dev',
      LOG_LEVEL: 'warn',
      CACHE_ENTRY_TTL_SECONDS: '900',
    });
    server = await startSettingsServer(config, createLogger('bench-l1', 'warn'));
    const near = server.nearCache;
    if (!near || !(await near.tracking.waitOn(10_000))) throw new Error('near-cache tracking did not come on');
    const c = client(server.port);
    await waitForChannel(c);
    // Fill Redis, then read again so every entry is in L1 (the second read installs it).
    for (let pass = 0; pass < 2; pass++) {
      for (let i = 0; i < keys; i += 50) await Promise.all(Array.from({ length: Math.min(50, keys - i) }, (_, j) => getAccount(c, accountId(prefix, i + j), 5000)));
    }
    c.close();
    const versions = new Map((await sql<{ account_id: string; version: string }>('SELECT account_id, version::text FROM account_settings WHERE account_id LIKE $1', [`${prefix}-%`])).map((r) => [r.account_id, BigInt(r.version)]));
    const latencies: number[] = [];
    let warmed = 0;
    let notDropped = 0;
    for (let i = 0; i < keys; i++) {
      const id = accountId(prefix, i);
      const { key } = cacheKeys.accountSettings(id);
      if (!near.cache.get('account-settings', key)) continue;
      warmed += 1;
      const gone = near.cache.waitForChange(key, 5000);
      const t0 = performance.now();
      await admin.evictToMarker(key, String(versions.get(id)! + 1n), 60_000);
      await gone;
      const t1 = performance.now();
      if (near.cache.get('account-settings', key)) notDropped += 1;
      else latencies.push(t1 - t0);
      await new Promise((r) => setTimeout(r, 2));
    }
    const markerToL1Gone = summarize(latencies);
    ctx.log(`l1-coherence: ${warmed}/${keys} keys in L1; marker → L1 entry gone p50 ${markerToL1Gone.p50} ms, p99 ${markerToL1Gone.p99} ms; not dropped: ${notDropped}`);
    return { keys, markerToL1Gone, notDropped, warmedInL1: warmed };
  } finally {
    await server?.stop();
    admin.disconnect();
    await deleteAccounts(prefix);
    await deleteAccountKeys(redis, prefix);
    redis.disconnect();
  }
}
