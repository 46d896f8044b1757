import { ListStaffPermissionsResponse, Role, StaffPermission } from '@settings/api';
import { accountsDeletedAfterAll, decodeError, mintToken, serverForTests } from '../support/test-server';

/**
 * A list too large to cache is paged from PostgreSQL; a page stops at STAFF_LIST_CACHE_MAX_BYTES
 * (the cap a cached list's whole encoding has), whatever page_size asks for, and says where the
 * next page starts. Without it one page of 1,000 grants of 200 permissions was ~20 MB: over a
 * default gRPC client's 4 MB receive limit, so the caller could not read its own list.
 */
const newAccount = accountsDeletedAfterAll();
const MAX_BYTES = 16_384;
const t = serverForTests({ STAFF_LIST_CACHE_MAX_ROWS: '3', STAFF_LIST_CACHE_MAX_BYTES: String(MAX_BYTES) });

it('cuts a page from PostgreSQL at STAFF_LIST_CACHE_MAX_BYTES and pages on from there, every grant once', async () => {
  const a = newAccount();
  const parent = `accounts/${a}`;
  // ~4 KB per grant: 100 permissions of ~35 characters.
  const permissions = Array.from({ length: 100 }, (_, i) => `appointments_area_${i}.read_everything`);
  const ids = ['s1', 's2', 's3', 's4', 's5', 's6', 's7', 's8'];
  for (const id of ids) await t.call('createStaffPermission', { parent, staffPermissionId: id, staffPermission: StaffPermission.fromPartial({ role: Role.ROLE_NURSE, permissions }) });
  const seen: string[] = [];
  let pageToken = '';
  let pages = 0;
  do {
    const res = await t.call('listStaffPermissions', { parent, pageSize: 1000, pageToken });
    expect(ListStaffPermissionsResponse.encode(res).finish().length).toBeLessThanOrEqual(MAX_BYTES);
    seen.push(...res.staffPermissions.map((p) => p.name.split('/')[3]!));
    pageToken = res.nextPageToken;
    pages += 1;
  } while (pageToken !== '' && pages < 20);
  expect(seen).toEqual(ids);
  expect(pages).toBeGreaterThan(1);
});

// README, "One caller cannot take every deliberate database read": every page of a list too
// large to cache is a database read, so it spends the caller's deliberate-read rate and share.
// Before, such pages went straight to the read pool: one caller's concurrent Lists could hold
// every read connection while other callers' misses queued behind them.
describe('pages of a list too large to cache are admitted per caller', () => {
  const limited = serverForTests({ STAFF_LIST_CACHE_MAX_ROWS: '3', DB_DELIBERATE_READS_PER_CALLER_PER_SECOND: '1', DB_DELIBERATE_READ_BURST_PER_CALLER: '2' });

  it('refuses a caller over its rate with RESOURCE_EXHAUSTED while another caller still pages', async () => {
    const parent = `accounts/${newAccount()}`;
    for (const id of ['s1', 's2', 's3', 's4']) await limited.call('createStaffPermission', { parent, staffPermissionId: id, staffPermission: StaffPermission.fromPartial({ role: Role.ROLE_NURSE }) });
    const flooder = { token: await mintToken({ sub: 'list-flooder' }) };
    const outcomes = await Promise.all(
      Array.from({ length: 6 }, () => limited.call('listStaffPermissions', { parent, pageSize: 10, pageToken: '' }, flooder).then(() => 'OK', (err: unknown) => decodeError(err).reason)),
    );
    expect(outcomes.filter((o) => o === 'OK').length).toBeLessThanOrEqual(2);
    expect(outcomes.filter((o) => o === 'CALLER_SHARE_EXCEEDED').length).toBeGreaterThanOrEqual(4);
    const other = await limited.call('listStaffPermissions', { parent, pageSize: 10, pageToken: '' }, { token: await mintToken({ sub: 'someone-else' }) });
    expect(other.staffPermissions).toHaveLength(4);
  });

  it('charges a fully_consistent List of such a list once, not once for the list and again for its page', async () => {
    const parent = `accounts/${newAccount()}`;
    for (const id of ['s1', 's2', 's3', 's4']) await limited.call('createStaffPermission', { parent, staffPermissionId: id, staffPermission: StaffPermission.fromPartial({ role: Role.ROLE_NURSE }) });
    const caller = { token: await mintToken({ sub: 'consistent-lister' }) };
    const consistent = { requirement: { $case: 'fullyConsistent' as const, value: true } };
    // A burst of 2: two such calls back to back fit when each costs one.
    for (let i = 0; i < 2; i++) {
      const res = await limited.call('listStaffPermissions', { parent, pageSize: 10, pageToken: '', consistency: consistent }, caller);
      expect(res.staffPermissions).toHaveLength(4);
    }
  });
});
