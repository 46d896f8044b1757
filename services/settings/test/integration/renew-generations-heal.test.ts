import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import Redis from 'ioredis';
import { AccountSettings } from '@settings/api';
import { cacheKeys, localRedisUrl } from '@settings/shared';
import { PausedFill } from '../support/paused-fill';
import { accountsDeletedAfterAll, metricValue, serverForTests, waitFor } from '../support/test-server';

/**
 * docs/operations.md, "Renewing the cache generations": after a restore or a CDC gap one command
 * makes every entry, and every fill in flight, a miss — a cold cache, never a stale one — seen
 * through a running settings replica (near-cache on, the default). No invalidator runs here (the
 * integration tests run one file at a time and start their own), so a save leaves its old entry
 * in place exactly as a change lost in a CDC gap would. The command is the compiled one an
 * operator runs (npm test builds first), limited to the account-settings space.
 */
const renewCommand = join(__dirname, '../../../invalidator/dist/src/admin/renew-cache-generations.js');
const newAccount = accountsDeletedAfterAll();
const fill = new PausedFill();
const t = serverForTests({}, { readThroughHooks: fill.hooks });
const redis = new Redis(localRedisUrl, { maxRetriesPerRequest: 1 });
afterAll(() => redis.quit());

const renewAccountSettingsGeneration = (): void =>
  void execFileSync(process.execPath, [renewCommand, 'account-settings'], { env: { ...process.env, REDIS_URL: localRedisUrl, LOG_LEVEL: 'warn' }, stdio: 'pipe' });
const save = (name: string, displayName: string, allowMissing = false) => t.call('updateAccountSettings', { accountSettings: AccountSettings.fromPartial({ name, displayName }), allowMissing });
const misses = () => metricValue(t.running, 'settings_cache_requests_total', { space: 'account-settings', result: 'miss' });

it('renewing the generations turns a stale cached entry into a miss: reads return the database row within 5 s', async () => {
  const a = newAccount();
  const name = `accounts/${a}/settings`;
  const { key } = cacheKeys.accountSettings(a);
  await save(name, 'v1', true);
  await t.call('getAccountSettings', { name });
  await waitFor(async () => (await redis.exists(key)) === 1, 5000, 'v1 cached');
  const v1Entry = (await redis.getBuffer(key))!;
  const v2 = await save(name, 'v2');
  // The cache as a restore (or a change lost in a CDC gap) leaves it: v1's entry, no marker.
  await redis.set(key, v1Entry);
  await waitFor(async () => (await t.call('getAccountSettings', { name })).displayName === 'v1', 5000, 'the stale v1 entry served');

  const missesBefore = await misses();
  renewAccountSettingsGeneration();
  await waitFor(async () => (await t.call('getAccountSettings', { name })).displayName === 'v2', 5000, 'v2 read after the renewal');
  expect(await t.call('getAccountSettings', { name })).toMatchObject({ displayName: 'v2', etag: v2.etag });
  expect(await misses()).toBeGreaterThan(missesBefore);
});

it('renewing the generations fences a fill in flight: a row read before the renewal is never served from the cache after it', async () => {
  const a = newAccount();
  const name = `accounts/${a}/settings`;
  const { key } = cacheKeys.accountSettings(a);
  await save(name, 'v1', true);
  // 1. A reader misses, loads v1 and stalls before its fill.
  fill.pause(key);
  const stalled = t.call('getAccountSettings', { name });
  await fill.loaded;
  // 2. v2 commits and its change is lost (no invalidator: no marker); the operator renews.
  const v2 = await save(name, 'v2');
  renewAccountSettingsGeneration();
  // 3. The stalled reader fills v1 under the generation it read before the renewal.
  const fillsBefore = (await metricValue(t.running, 'settings_cache_fills_total', { space: 'account-settings', result: 'written' })) + (await metricValue(t.running, 'settings_cache_fills_total', { space: 'account-settings', result: 'fenced' }));
  fill.release();
  expect((await stalled).displayName).toBe('v1');
  await waitFor(
    async () => (await metricValue(t.running, 'settings_cache_fills_total', { space: 'account-settings', result: 'written' })) + (await metricValue(t.running, 'settings_cache_fills_total', { space: 'account-settings', result: 'fenced' })) > fillsBefore,
    10_000,
    'the stalled fill finished',
  );
  // 4. Every later read returns v2: the v1 fill is not servable under the new generation.
  for (let i = 0; i < 3; i++) expect(await t.call('getAccountSettings', { name })).toMatchObject({ displayName: 'v2', etag: v2.etag });
});
