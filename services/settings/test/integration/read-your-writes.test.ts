import Redis from 'ioredis';
import { AccountSettings, Role, StaffPermission } from '@settings/api';
import { cacheKeys, generationKey, localRedisUrl, parseCacheValue, withCacheScripts } from '@settings/shared';
import { accountsDeletedAfterAll, metricValue, serverForTests, waitFor } from '../support/test-server';

/**
 * No invalidator runs here, so an old entry stays in the cache after a write: exactly the window
 * in which a caller passing its write's consistency token must still see its own write.
 */
const redis = withCacheScripts(new Redis(localRedisUrl, { maxRetriesPerRequest: 1 }));
const newAccount = accountsDeletedAfterAll();
const t = serverForTests();
afterAll(() => redis.disconnect());

const fresh = (value: string) => ({ requirement: { $case: 'atLeastAsFresh' as const, value } });

it('at_least_as_fresh(token) returns the written value while the cache still holds the old one', async () => {
  const a = newAccount();
  const name = `accounts/${a}/settings`;
  const { key, space } = cacheKeys.accountSettings(a);
  const v1 = await t.call('updateAccountSettings', { accountSettings: AccountSettings.fromPartial({ name, timeZone: 'Europe/Berlin' }), updateMask: ['time_zone'], allowMissing: true });

  // Fill the old entry by hand, as a reader of v1 would have.
  const generation = (await redis.get(generationKey(space))) ?? '0';
  expect(await redis.versionedFill(key, v1.etag, generation, 60_000, Buffer.from(AccountSettings.encode(v1).finish()), 600_000)).toBe(1);

  const v2 = await t.call('updateAccountSettings', { accountSettings: AccountSettings.fromPartial({ name, timeZone: 'America/Chicago' }), updateMask: ['time_zone'], allowMissing: false });

  // Without a token the stale entry is served (documented: minimize_latency may lag the invalidator).
  expect((await t.call('getAccountSettings', { name })).timeZone).toBe('Europe/Berlin');
  // fully_consistent always reads PostgreSQL.
  expect((await t.call('getAccountSettings', { name, consistency: { requirement: { $case: 'fullyConsistent', value: true } } })).timeZone).toBe('America/Chicago');

  const staleBefore = await metricValue(t.running, 'settings_cache_requests_total', { space, result: 'stale_token' });
  const mine = await t.call('getAccountSettings', { name, consistency: fresh(v2.consistencyToken) });
  expect(mine).toMatchObject({ timeZone: 'America/Chicago', etag: v2.etag });
  expect(await metricValue(t.running, 'settings_cache_requests_total', { space, result: 'stale_token' })).toBe(staleBefore + 1);

  // The fresh read also refreshed the entry (a newer version replaces an older one of the same generation).
  await waitFor(async () => {
    const v = parseCacheValue(await redis.getBuffer(key));
    return v?.kind === 'entry' && v.version === BigInt(v2.etag);
  }, 5000, 'entry refreshed to v2');
  expect((await t.call('getAccountSettings', { name })).timeZone).toBe('America/Chicago');
  // A token older than the entry is satisfied by the cache.
  const hitsBefore = await metricValue(t.running, 'settings_cache_requests_total', { space, result: 'hit' });
  expect((await t.call('getAccountSettings', { name, consistency: fresh(v1.consistencyToken) })).timeZone).toBe('America/Chicago');
  expect(await metricValue(t.running, 'settings_cache_requests_total', { space, result: 'hit' })).toBe(hitsBefore + 1);
});

it('a grant created after a list was cached is listed when the create token is passed', async () => {
  const a = newAccount();
  const parent = `accounts/${a}`;
  const grant = (id: string) => t.call('createStaffPermission', { parent, staffPermissionId: id, staffPermission: StaffPermission.fromPartial({ role: Role.ROLE_DOCTOR }) });
  await grant('s1');
  const ids = async (consistency?: ReturnType<typeof fresh>) =>
    (await t.call('listStaffPermissions', { parent, pageSize: 0, pageToken: '', consistency })).staffPermissions.map((p) => p.name.split('/')[3]);
  expect(await ids()).toEqual(['s1']);
  await waitFor(async () => (await redis.getBuffer(cacheKeys.staffPermissionList(a).key)) !== null, 5000, 'list cached');

  const created = await grant('s2');
  expect(await ids()).toEqual(['s1']); // the cached list, no invalidator running
  expect(await ids(fresh(created.consistencyToken))).toEqual(['s1', 's2']);
  // The single grant is readable with the same token.
  expect((await t.call('getStaffPermission', { name: created.name, consistency: fresh(created.consistencyToken) })).etag).toBe(created.etag);
});
