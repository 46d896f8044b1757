import Redis from 'ioredis';
import { Client } from 'pg';
import { Role, StaffPermission } from '@settings/api';
import { cacheKeys, localAdminDatabaseUrl, localRedisUrl } from '@settings/shared';
import { accountsDeletedAfterAll, serverForTests, waitFor } from '../support/test-server';

/**
 * Lists longer than STAFF_LIST_CACHE_MAX_ROWS are never cached whole; their pages come from
 * PostgreSQL by keyset. Page tokens hold the last staff id, so they work the same for cached
 * and uncached lists and survive grants added or removed between pages.
 */
const redis = new Redis(localRedisUrl, { maxRetriesPerRequest: 1 });
const newAccount = accountsDeletedAfterAll();
const t = serverForTests({ STAFF_LIST_CACHE_MAX_ROWS: '3' });
afterAll(() => redis.disconnect());

async function grants(parent: string, ids: string[]): Promise<void> {
  for (const id of ids) await t.call('createStaffPermission', { parent, staffPermissionId: id, staffPermission: StaffPermission.fromPartial({ role: Role.ROLE_NURSE }) });
}

async function listAll(parent: string, pageSize: number, between?: (page: number) => Promise<void>): Promise<string[]> {
  const seen: string[] = [];
  let pageToken = '';
  let page = 0;
  do {
    const res = await t.call('listStaffPermissions', { parent, pageSize, pageToken });
    seen.push(...res.staffPermissions.map((p) => p.name.split('/')[3]!));
    pageToken = res.nextPageToken;
    await between?.(page++);
  } while (pageToken !== '');
  return seen;
}

it('pages a list above the cache cap from PostgreSQL and never caches it', async () => {
  const a = newAccount();
  const parent = `accounts/${a}`;
  await grants(parent, ['s1', 's2', 's3', 's4', 's5', 's6', 's7']);
  expect(await listAll(parent, 2)).toEqual(['s1', 's2', 's3', 's4', 's5', 's6', 's7']);
  expect(await redis.getBuffer(cacheKeys.staffPermissionList(a).key)).toBeNull();
});

it('a cached list pages by staff id: a grant deleted and one added between pages do not shift the pages', async () => {
  const a = newAccount();
  const parent = `accounts/${a}`;
  await grants(parent, ['s2', 's4']);
  await t.call('listStaffPermissions', { parent, pageSize: 0, pageToken: '' });
  await waitFor(async () => (await redis.getBuffer(cacheKeys.staffPermissionList(a).key)) !== null, 5000, 'list cached');
  const seen = await listAll(parent, 1, async (page) => {
    if (page !== 0) return;
    await t.call('deleteStaffPermission', { name: `${parent}/staffPermissions/s2`, etag: '' });
    await grants(parent, ['s1', 's3']);
  });
  // Page 1 was s2. The cursor is "after s2", so s1 (added before it) is not returned and nothing
  // repeats; whether s3 shows depends on whether the cached list was evicted yet (no invalidator
  // runs here, so usually not), but s4 always closes the list.
  expect(seen[0]).toBe('s2');
  expect(seen).not.toContain('s1');
  expect(seen[seen.length - 1]).toBe('s4');
});

describe('on a database whose collation does not sort ids byte by byte (en_US.UTF-8 on many managed servers)', () => {
  // The local stack's database is C.UTF-8; a managed server's default often is not. An ICU
  // collation on the column stands in for it (punctuation before digits: s_a, s-x, s0), and is
  // put back after. Only this file's own accounts are read meanwhile.
  const admin = new Client({ connectionString: localAdminDatabaseUrl });
  const setCollation = (collation: string) => admin.query(`ALTER TABLE staff_permissions ALTER COLUMN staff_id TYPE text COLLATE "${collation}"`);
  let original = 'default';
  beforeAll(async () => {
    await admin.connect();
    const { rows } = await admin.query<{ collation: string | null }>("SELECT collation_name AS collation FROM information_schema.columns WHERE table_name = 'staff_permissions' AND column_name = 'staff_id'");
    original = rows[0]?.collation ?? 'default';
    await setCollation('und-x-icu');
  });
  afterAll(async () => {
    await setCollation(original);
    await admin.end();
  });

  it('pages every grant exactly once, cached or not', async () => {
    for (const ids of [['s-x', 's0', 's_a'], ['s-x', 's0', 's1', 's_a', 'sa']]) {
      const a = newAccount();
      const parent = `accounts/${a}`;
      await grants(parent, ids);
      // Byte order, whatever the column's collation: the order the page tokens assume.
      expect(await listAll(parent, 1)).toEqual([...ids].sort());
      expect(await listAll(parent, 2)).toEqual([...ids].sort());
    }
  });
});
