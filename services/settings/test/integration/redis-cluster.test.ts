import type { Cluster } from 'ioredis';
import { AccountSettings } from '@settings/api';
import { cacheKeys, generationKey, keySlot, localStack, withCacheScripts } from '@settings/shared';
import { createTestRedis, restartRedisClusterNode, stopRedisClusterNode, testRedisTopology } from '@settings/local-stack';
import { accountsDeletedAfterAll, db, metricValue, serverForTests, waitFor } from '../support/test-server';

/**
 * The settings service on a three-master Redis Cluster (jest project `cluster` only): reads of
 * accounts spread over every master work without a single CROSSSLOT fallback, the near-cache
 * tracks every master, and a marker written on any master reaches this replica's near-cache.
 */
const onCluster = testRedisTopology() === 'cluster';
const suite = onCluster ? describe : describe.skip;

suite('settings service on a Redis Cluster', () => {
  const admin = withCacheScripts(createTestRedis() as Cluster);
  const newAccount = accountsDeletedAfterAll();
  afterAll(() => admin.disconnect());
  const t = serverForTests();
  const near = () => t.running.nearCache!;
  const l1Hits = () => metricValue(t.running, 'settings_near_cache_requests_total', { space: 'account-settings', result: 'hit' });

  async function seeded(displayName: string): Promise<{ name: string; key: string; account: string }> {
    const account = newAccount();
    const name = `accounts/${account}/settings`;
    await t.call('updateAccountSettings', { accountSettings: AccountSettings.fromPartial({ name, displayName }), allowMissing: true });
    return { name, key: cacheKeys.accountSettings(account).key, account };
  }

  /** The master (host:port) serving a key's slot, from the admin client's slot map. */
  const masterOf = (key: string): string => admin.slots[keySlot(key)]![0]!;

  /**
   * Reads until the entry is in the near-cache. A Get answers before its fill is written, and the
   * fill's own SET is an invalidation this replica receives: the entry gets there on a Redis hit
   * after both, not after a fixed number of reads.
   */
  async function readIntoNearCache(s: { name: string; key: string }): Promise<void> {
    await waitFor(
      async () => {
        await t.call('getAccountSettings', { name: s.name });
        return near().cache.get('account-settings', s.key) !== undefined;
      },
      5000,
      'the entry in the near-cache',
    );
  }

  beforeAll(async () => {
    expect(t.running.redis.isCluster).toBe(true);
    expect(await near().tracking.waitOn(10_000)).toBe(true);
  });

  it('serves accounts whose keys live on all three masters from the cache, with no fallback to PostgreSQL', async () => {
    const accounts = await Promise.all(Array.from({ length: 24 }, (_, i) => seeded(`c${i}`)));
    expect(new Set(accounts.map((a) => masterOf(a.key))).size).toBe(3);
    const fallbackBefore = await metricValue(t.running, 'settings_cache_fallback_total');
    // First read: miss and fill; second: a Redis hit (entries and the generation from two slots).
    for (let round = 0; round < 2; round++) {
      for (const a of accounts) expect((await t.call('getAccountSettings', { name: a.name })).displayName).toBe(`c${accounts.indexOf(a)}`);
    }
    expect(await metricValue(t.running, 'settings_cache_requests_total', { space: 'account-settings', result: 'hit' })).toBeGreaterThanOrEqual(accounts.length);
    expect(await metricValue(t.running, 'settings_cache_fallback_total')).toBe(fallbackBefore);
    for (const a of accounts) expect((await admin.getBuffer(a.key))?.subarray(0, 2).toString()).toBe('e|');
  });

  it('drops a near-cache entry when its marker lands on whichever master holds it, and the next Get reads the new row', async () => {
    const byMaster = new Map<string, { name: string; key: string; account: string }>();
    while (byMaster.size < 3) {
      const s = await seeded('old');
      byMaster.set(masterOf(s.key), s);
    }
    for (const s of byMaster.values()) {
      await readIntoNearCache(s);
      const hitsBefore = await l1Hits();
      await t.call('getAccountSettings', { name: s.name });
      expect(await l1Hits()).toBe(hitsBefore + 1);

      const [row] = await db(`UPDATE account_settings SET display_name = 'new' WHERE account_id = $1 RETURNING version`, [s.account]);
      const changed = near().cache.waitForChange(s.key, 5000);
      expect(await admin.evictToMarker(s.key, String(row!.version), 60_000)).toBe(1);
      await changed;
      expect(near().cache.get('account-settings', s.key)).toBeUndefined();
      expect((await t.call('getAccountSettings', { name: s.name })).displayName).toBe('new');
    }
  });

  it('a new generation (a TRUNCATE) written on its master drops the near-cache entry of that space within 2 s', async () => {
    const s = await seeded('g');
    await readIntoNearCache(s);
    const gen = generationKey('account-settings');
    const changed = near().cache.waitForChange(gen, 5000);
    await admin.set(gen, String(BigInt(String(await admin.get(gen))) + 1n));
    await changed;
    await waitFor(() => near().cache.get('account-settings', s.key) === undefined, 2000, 'space dropped');
    // The entry in Redis carries the old generation: the next Get is a miss, read from PostgreSQL and refilled.
    const missesBefore = await metricValue(t.running, 'settings_cache_requests_total', { space: 'account-settings', result: 'miss' });
    expect((await t.call('getAccountSettings', { name: s.name })).displayName).toBe('g');
    expect(await metricValue(t.running, 'settings_cache_requests_total', { space: 'account-settings', result: 'miss' })).toBe(missesBefore + 1);
  });

  it('a master that restarts empty makes the service renew the account-settings generation; reads answer throughout', async () => {
    const victimPort = localStack.redisClusterPorts[2]!;
    const s = await seeded('before');
    for (let i = 0; i < 3; i++) await t.call('getAccountSettings', { name: s.name });
    const gen = generationKey('account-settings');
    const genBefore = await admin.get(gen);
    const renewedBefore = await metricValue(t.running, 'settings_cache_generations_renewed_total');
    await stopRedisClusterNode(victimPort);
    try {
      // While a master is gone (and then the whole cluster refuses commands), reads still answer.
      await db(`UPDATE account_settings SET display_name = 'during' WHERE account_id = $1`, [s.account]);
      await waitFor(async () => (await t.call('getAccountSettings', { name: s.name })).displayName === 'during', 15_000, 'the changed row served while a master is down');
    } finally {
      await restartRedisClusterNode(victimPort);
    }
    await waitFor(async () => (await metricValue(t.running, 'settings_cache_generations_renewed_total')) > renewedBefore, 20_000, 'generations renewed');
    expect(await admin.get(gen)).not.toBe(genBefore);
    expect((await t.call('getAccountSettings', { name: s.name })).displayName).toBe('during');
  });
});

if (!onCluster) it('runs only in the jest project `cluster`', () => undefined);
