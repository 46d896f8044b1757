import { status } from '@grpc/grpc-js';
import { AccountSettings } from '@settings/api';
import { cacheKeys, parseCacheValue, withCacheScripts } from '@settings/shared';
import { createTestRedis } from '@settings/local-stack';
import { PausedFill } from '../support/paused-fill';
import { accountsDeletedAfterAll, db, expectError, metricValue, serverForTests, waitFor, type TestServer } from '../support/test-server';

/**
 * A name with no row is answered NOT_FOUND from the cache after its first read: the absence is
 * filled as an entry of version 0 (read-through.ts), under the same fences as any fill, so the
 * creation of the row ends it like any other change.
 */
const redis = withCacheScripts(createTestRedis());
const newAccount = accountsDeletedAfterAll();
afterAll(() => redis.disconnect());

const fresh = (value: string) => ({ requirement: { $case: 'atLeastAsFresh' as const, value } });

const queries = (t: TestServer): Promise<number> => metricValue(t.running, 'settings_db_queries_total');

async function expectNotFound(t: TestServer, name: string): Promise<void> {
  expect((await expectError(() => t.call('getAccountSettings', { name }))).code).toBe(status.NOT_FOUND);
}

/** Waits until Redis holds the absence of `key` (the fill does not delay the response). */
async function absenceCached(key: string): Promise<void> {
  await waitFor(async () => {
    const v = parseCacheValue(await redis.getBuffer(key));
    return v?.kind === 'entry' && v.version === 0n && v.payload.length === 0;
  }, 5000, `cached absence of ${key}`);
}

describe.each([
  ['with the near-cache', {}],
  ['without the near-cache (every read asks Redis)', { NEAR_CACHE_ENABLED: 'false' }],
])('a Get of a name that does not exist, %s', (_label, overrides) => {
  const t = serverForTests(overrides);

  it('is answered NOT_FOUND from the cache the second time, without a PostgreSQL read', async () => {
    const name = `accounts/${newAccount()}/settings`;
    const { key } = cacheKeys.accountSettings(name.split('/')[1]!);
    await expectNotFound(t, name);
    await absenceCached(key);

    const before = await queries(t);
    const hitsBefore = await metricValue(t.running, 'settings_cache_not_found_hits_total', { space: 'account-settings' });
    for (let i = 0; i < 5; i++) await expectNotFound(t, name);
    expect(await queries(t)).toBe(before);
    expect(await metricValue(t.running, 'settings_cache_not_found_hits_total', { space: 'account-settings' })).toBe(hitsBefore + 5);
  });

  it('BatchGet of a cached absence is NOT_FOUND without a PostgreSQL read', async () => {
    const name = `accounts/${newAccount()}/settings`;
    await expectNotFound(t, name);
    await absenceCached(cacheKeys.accountSettings(name.split('/')[1]!).key);
    const before = await queries(t);
    expect((await expectError(() => t.call('batchGetAccountSettings', { names: [name] }))).code).toBe(status.NOT_FOUND);
    expect(await queries(t)).toBe(before);
  });

  it('ends when the row is created: the save token reads it at once, and after the creation marker a default read returns it within 5 s', async () => {
    const account = newAccount();
    const name = `accounts/${account}/settings`;
    const { key } = cacheKeys.accountSettings(account);
    await expectNotFound(t, name);
    await absenceCached(key);

    const created = await t.call('updateAccountSettings', { accountSettings: AccountSettings.fromPartial({ name, displayName: 'created' }), allowMissing: true });
    // The caller's own write, with its token: the cached absence (version 0) is older than any row.
    expect(await t.call('getAccountSettings', { name, consistency: fresh(created.consistencyToken) })).toMatchObject({ displayName: 'created', etag: created.etag });
    // The invalidator's marker for the creation (written here, as the invalidator would).
    await redis.evictToMarker(key, created.etag, t.config.CACHE_MARKER_TTL_SECONDS * 1000);
    await waitFor(async () => (await t.call('getAccountSettings', { name }).catch(() => undefined))?.displayName === 'created', 5000, 'created row served');
  });

  it('is never served once a fully_consistent read is asked for', async () => {
    const account = newAccount();
    const name = `accounts/${account}/settings`;
    await expectNotFound(t, name);
    await absenceCached(cacheKeys.accountSettings(account).key);
    // A row written behind the cache's back (no marker): only a read that skips the cache sees it.
    await db('INSERT INTO account_settings (account_id, display_name) VALUES ($1, $2)', [account, 'behind the cache']);
    const read = await t.call('getAccountSettings', { name, consistency: { requirement: { $case: 'fullyConsistent', value: true } } });
    expect(read.displayName).toBe('behind the cache');
  });
});

describe('an absence loaded before the row was created', () => {
  const fill = new PausedFill();
  const t = serverForTests({}, { readThroughHooks: fill.hooks });

  it('is fenced by the creation marker and never cached, so the next read returns the row', async () => {
    const account = newAccount();
    const name = `accounts/${account}/settings`;
    const { key } = cacheKeys.accountSettings(account);
    fill.pause(key);

    // 1. A reader finds no row and stalls before filling the absence.
    const staleRead = expectError(() => t.call('getAccountSettings', { name }));
    expect(await fill.loaded).toBe(0n);

    // 2. The row is created and the invalidator's marker lands.
    const created = await t.call('updateAccountSettings', { accountSettings: AccountSettings.fromPartial({ name, displayName: 'created' }), allowMissing: true });
    expect(await redis.evictToMarker(key, created.etag, t.config.CACHE_MARKER_TTL_SECONDS * 1000)).toBe(1);
    const fencedBefore = await metricValue(t.running, 'settings_cache_fills_total', { space: 'account-settings', result: 'fenced' });

    // 3. The stalled reader answers with what it read (NOT_FOUND), but its fill is refused.
    fill.release();
    expect((await staleRead).code).toBe(status.NOT_FOUND);
    await waitFor(async () => (await metricValue(t.running, 'settings_cache_fills_total', { space: 'account-settings', result: 'fenced' })) === fencedBefore + 1, 5000, 'fenced fill');
    expect(parseCacheValue(await redis.getBuffer(key))).toEqual({ kind: 'marker', floor: BigInt(created.etag) });

    // 4. The next plain read returns the row.
    expect(await t.call('getAccountSettings', { name })).toMatchObject({ displayName: 'created', etag: created.etag });
  });
});
