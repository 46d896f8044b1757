import Redis from 'ioredis';
import { cacheKeys, localRedisUrl, parseCacheValue } from '@settings/shared';
import { fencedAtLeast, sql, startTestInvalidator, testRedis, uniqueId } from '../support/test-invalidator';
import type { RunningInvalidator } from '../../src/invalidator';

/**
 * The incident's failure: a burst of invalidations overloading Redis. A bulk UPDATE of 50,000
 * rows must reach Redis no faster than the configured ceiling (+10%), measured by Redis
 * itself, and still leave every affected key fenced at its new version.
 */
jest.setTimeout(300_000);
const N = 50_000;
const CEILING = 4000;
const prefix = uniqueId('bulk');
let inv: RunningInvalidator;

beforeAll(async () => {
  await sql(`INSERT INTO account_settings (account_id) SELECT $1 || '-' || g FROM generate_series(1, ${N}) g`, [prefix]);
});
afterAll(async () => {
  await inv?.stop();
  await sql('DELETE FROM account_settings WHERE account_id LIKE $1', [`${prefix}-%`]);
});

/** Eviction commands Redis has executed (scripts and generation INCRs), from INFO commandstats. */
async function evictionCommands(redis: Redis): Promise<number> {
  const info = await redis.info('commandstats');
  let total = 0;
  for (const m of info.matchAll(/^cmdstat_(evalsha|eval|incr):calls=(\d+)/gm)) total += Number(m[2]);
  return total;
}

it('a 50,000-row bulk update stays within the Redis ops/s ceiling and leaves every key consistent', async () => {
  // Start after the inserts so the measured burst is the bulk update alone.
  inv = await startTestInvalidator({ REDIS_MAX_OPS_PER_SECOND: String(CEILING), REDIS_LATENCY_TARGET_MS: '1000' });
  await sql(`UPDATE account_settings SET display_name = 'bulk' WHERE account_id LIKE $1`, [`${prefix}-%`]);
  const versions: Array<readonly [string, bigint]> = (await sql('SELECT account_id, version FROM account_settings WHERE account_id LIKE $1', [`${prefix}-%`])).map((r) => [r.account_id as string, BigInt(r.version as string)] as const);
  expect(versions).toHaveLength(N);

  const sampler = new Redis(localRedisUrl);
  const perSecond: number[] = [];
  let last = await evictionCommands(sampler);
  // Sample once a second until Redis has been idle for 3 s after the burst.
  let idle = 0;
  const started = Date.now();
  while (Date.now() - started < 240_000) {
    await new Promise((r) => setTimeout(r, 1000));
    const now = await evictionCommands(sampler);
    perSecond.push(now - last);
    idle = now - last === 0 && perSecond.some((n) => n > 0) ? idle + 1 : 0;
    last = now;
    if (idle >= 3) break;
  }
  sampler.disconnect();
  const busy = perSecond.filter((n) => n > 0);
  const peak = Math.max(...busy);
  process.stderr.write(`[measure] bulk 50k: ${busy.length} s busy, peak ${peak} ops/s, median ${busy.sort((a, b) => a - b)[Math.floor(busy.length / 2)]} ops/s (ceiling ${CEILING})\n`);
  expect(peak).toBeLessThanOrEqual(CEILING * 1.1);

  const redis = testRedis();
  const stale: string[] = [];
  for (let i = 0; i < versions.length; i += 1000) {
    const slice = versions.slice(i, i + 1000);
    const p = redis.pipeline();
    for (const [account] of slice) p.getBuffer(cacheKeys.accountSettings(account).key);
    const results = (await p.exec())!;
    slice.forEach(([account, v], j) => {
      if (!fencedAtLeast(parseCacheValue(results[j]![1] as Buffer | null), v)) stale.push(account);
    });
  }
  redis.disconnect();
  expect(stale).toEqual([]);
});
