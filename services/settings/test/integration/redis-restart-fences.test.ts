import { rmSync } from 'node:fs';
import { join } from 'node:path';
import Redis from 'ioredis';
import { AccountSettings } from '@settings/api';
import { cacheKeys, localRedisUrl, parseCacheValue, withCacheScripts } from '@settings/shared';
import { redisProcess, startRedis } from '@settings/local-stack';
import { PausedFill } from '../support/paused-fill';
import { accountsDeletedAfterAll, db, metricValue, serverForTests, waitFor } from '../support/test-server';

/**
 * Fences that must survive a Redis that lost its recent writes. Both tests restart the stack's
 * Redis (the cache is a cache: other tests only see misses).
 */
jest.setTimeout(120_000);
const newAccount = accountsDeletedAfterAll();
const fill = new PausedFill();
const t = serverForTests({}, { readThroughHooks: fill.hooks });
afterAll(async () => {
  if (!redisProcess.isRunning()) await startRedis(() => undefined);
});

async function restartRedis(): Promise<void> {
  await redisProcess.stop();
  await startRedis(() => undefined);
}

/** The server's client reconnected and ran its incarnation check (or had the chance to). */
async function serverReconnected(): Promise<void> {
  await waitFor(() => t.running.redis.status === 'ready', 20_000, 'service reconnected to Redis');
  await new Promise((r) => setTimeout(r, 500));
}

async function write(name: string, displayName: string, allowMissing = false) {
  return t.call('updateAccountSettings', { accountSettings: AccountSettings.fromPartial({ name, displayName }), allowMissing });
}

it('a fill whose database read began before Redis restarted empty never makes the old version servable', async () => {
  const a = newAccount();
  const name = `accounts/${a}/settings`;
  const { key } = cacheKeys.accountSettings(a);
  await write(name, 'v1', true);

  // 1. A reader misses, loads v1 from PostgreSQL and stalls before its fill.
  fill.pause(key);
  const staleRead = t.call('getAccountSettings', { name });
  await fill.loaded;
  // 2. v2 commits; its eviction marker (if it landed) dies with Redis, which restarts empty.
  const v2 = await write(name, 'v2');
  await restartRedis();
  await serverReconnected();
  // 3. The stalled reader fills v1 into the new, empty Redis.
  const fillsBefore = (await metricValue(t.running, 'settings_cache_fills_total', { space: 'account-settings', result: 'written' })) + (await metricValue(t.running, 'settings_cache_fills_total', { space: 'account-settings', result: 'fenced' }));
  fill.release();
  expect((await staleRead).displayName).toBe('v1');
  await waitFor(
    async () => (await metricValue(t.running, 'settings_cache_fills_total', { space: 'account-settings', result: 'written' })) + (await metricValue(t.running, 'settings_cache_fills_total', { space: 'account-settings', result: 'fenced' })) > fillsBefore,
    10_000,
    'the stalled fill finished',
  );

  // 4. Every later default read returns v2...
  for (let i = 0; i < 3; i++) expect(await t.call('getAccountSettings', { name })).toMatchObject({ displayName: 'v2', etag: v2.etag });
  // ...through the cache, not around it: a read that trusted Redis found the v1 fill unusable
  // and filled v2 (while Redis is untrusted or the breaker open, reads go to PostgreSQL and no
  // fill is made, which would pass the check above whatever Redis holds).
  const [row] = await db('SELECT version FROM account_settings WHERE account_id = $1', [a]);
  const admin = new Redis(localRedisUrl, { maxRetriesPerRequest: 1 });
  try {
    await waitFor(
      async () => {
        const cached = parseCacheValue(await admin.getBuffer(key));
        return cached?.kind === 'entry' && cached.version === BigInt(row!.version as string);
      },
      10_000,
      'v2 filled through the trusted cache',
    );
  } finally {
    admin.disconnect();
  }
  expect((await t.call('getAccountSettings', { name })).displayName).toBe('v2');
});

it('entries a Redis brings back from an older snapshot (restore, failover to a lagging replica) are never served', async () => {
  const a = newAccount();
  const name = `accounts/${a}/settings`;
  const { key } = cacheKeys.accountSettings(a);
  const redis = withCacheScripts(new Redis(localRedisUrl, { maxRetriesPerRequest: 1 }));
  let dir: string;
  let v1: { etag: string };
  try {
    v1 = await write(name, 'v1', true);
    expect((await t.call('getAccountSettings', { name })).displayName).toBe('v1');
    await waitFor(async () => parseCacheValue(await redis.getBuffer(key))?.kind === 'entry', 5000, 'v1 cached');

    // 1. The snapshot a lagging replica (or a restore) would come back with: v1 cached.
    dir = ((await redis.config('GET', 'dir')) as string[])[1]!;
    await redis.save();
    // 2. v2 commits and the invalidator's marker lands after the snapshot.
    const v2 = await write(name, 'v2');
    expect(await redis.evictToMarker(key, v2.etag, 60_000)).toBe(1);
    expect((await t.call('getAccountSettings', { name })).displayName).toBe('v2');
  } finally {
    redis.disconnect();
  }

  // 3. Redis restarts from the snapshot: the v1 entry and its generation are back, the marker is not.
  const renewedBefore = await metricValue(t.running, 'settings_cache_generations_renewed_total');
  await restartRedis();
  rmSync(join(dir, 'dump.rdb'), { force: true });
  const after = new Redis(localRedisUrl, { maxRetriesPerRequest: 1 });
  try {
    expect(parseCacheValue(await after.getBuffer(key))).toMatchObject({ kind: 'entry', version: BigInt(v1.etag) });
  } finally {
    after.disconnect();
  }
  await serverReconnected();
  // The service saw a new Redis run_id and renewed every generation before trusting the cache.
  await waitFor(async () => (await metricValue(t.running, 'settings_cache_generations_renewed_total')) > renewedBefore, 10_000, 'generations renewed');

  // 4. No read returns v1.
  for (let i = 0; i < 3; i++) expect((await t.call('getAccountSettings', { name })).displayName).toBe('v2');
});
