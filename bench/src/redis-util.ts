import Redis from 'ioredis';
import { benchRedisUrl } from './context';

/**
 * A client on the benchmark's db. Commands ride out a short Redis restart (other engineers'
 * outage tests stop the shared Redis for ~10 s) instead of failing the whole run.
 */
export function benchRedis(): Redis {
  const r = new Redis(benchRedisUrl, { maxRetriesPerRequest: 40, enableAutoPipelining: false, retryStrategy: (times) => Math.min(times * 100, 1000) });
  r.on('error', () => undefined);
  return r;
}

/** Identity of the running Redis server (changes when it restarts; a restart empties it). */
export async function redisRunId(): Promise<string> {
  const r = benchRedis();
  try {
    return (await redisInfo(r, 'server')).get('run_id') ?? '';
  } finally {
    r.disconnect();
  }
}

/** Parsed `INFO` sections as key → string. */
export async function redisInfo(redis: Redis, section = 'all'): Promise<Map<string, string>> {
  const text = await redis.info(section);
  const out = new Map<string, string>();
  for (const line of text.split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0 && !line.startsWith('#')) out.set(line.slice(0, i), line.slice(i + 1));
  }
  return out;
}

/** Server-wide command and CPU counters (they include other clients of the shared Redis). */
export async function redisCounters(redis: Redis): Promise<{ commands: number; cpuSeconds: number }> {
  const info = await redisInfo(redis, 'all');
  return {
    commands: Number(info.get('total_commands_processed') ?? 0),
    cpuSeconds: Number(info.get('used_cpu_sys') ?? 0) + Number(info.get('used_cpu_user') ?? 0),
  };
}

/**
 * Deletes every key matching `pattern` in the benchmark's own db (SCAN + UNLINK). Patterns are
 * always this run's own prefixes: nothing else in the db is touched, and db 0 never is.
 */
export async function deleteByPattern(redis: Redis, pattern: string): Promise<number> {
  let cursor = '0';
  let n = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) n += await redis.unlink(...keys);
  } while (cursor !== '0');
  return n;
}

/** Escapes glob metacharacters of a literal key prefix for SCAN MATCH. */
export function globEscape(s: string): string {
  return s.replace(/[*?[\]\\{}]/g, (c) => `\\${c}`);
}

/**
 * Deletes every cache key (entries and markers) of the accounts whose ids start with
 * `<accountIdPrefix>-`, the ids a scenario creates (db.ts accountId): the key map puts the
 * account first, `v1:{acct:<account id>}:…` (@settings/shared, cached-table.ts). Fill leases
 * (`v1:lease:…`) expire by themselves; redis-cluster/cache-target.ts deletes them too, per master.
 */
export function deleteAccountKeys(redis: Redis, accountIdPrefix: string): Promise<number> {
  return deleteByPattern(redis, `v1:${globEscape(`{acct:${accountIdPrefix}-`)}*`);
}
