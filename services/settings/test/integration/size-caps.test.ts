import Redis from 'ioredis';
import { status } from '@grpc/grpc-js';
import { AccountSettings, DayOfWeek, DoctorSettings, Role, StaffPermission } from '@settings/api';
import { cacheKeys, localRedisUrl } from '@settings/shared';
import { MAX_REPORTED_VIOLATIONS } from '../../src/errors';
import { accountsDeletedAfterAll, expectError, metricValue, mintToken, serverForTests, waitFor } from '../support/test-server';

/**
 * Size caps (issue 11): a staff list whose encoded size is over STAFF_LIST_CACHE_MAX_BYTES is
 * paged from PostgreSQL and never cached; a BadRequest lists at most MAX_REPORTED_VIOLATIONS
 * violations plus one counting the rest; a repeated field's length is checked before its
 * elements, so 100,000 bad elements are one violation.
 */
const redis = new Redis(localRedisUrl, { maxRetriesPerRequest: 1 });
const newAccount = accountsDeletedAfterAll();
// 1 KiB (the smallest allowed) is a few grants with ten permissions each.
const t = serverForTests({ STAFF_LIST_CACHE_MAX_BYTES: '1024' });
afterAll(() => redis.disconnect());
// Grant changes need their own scope; reads and settings writes are covered by it too.
let token = '';
beforeAll(async () => {
  token = await mintToken({ scope: 'settings.read settings.write settings.permissions.write' });
});

const permissions = (n: number): string[] => Array.from({ length: n }, (_, i) => `area_number_${i}.read_everything`);

it('pages a staff list over the byte cap from PostgreSQL and never caches it, although it is under the row cap', async () => {
  const a = newAccount();
  const parent = `accounts/${a}`;
  const ids = ['s1', 's2', 's3', 's4', 's5', 's6'];
  for (const id of ids) await t.call('createStaffPermission', { parent, staffPermissionId: id, staffPermission: StaffPermission.fromPartial({ role: Role.ROLE_NURSE, permissions: permissions(10) }) }, { token });
  const seen: string[] = [];
  let pageToken = '';
  do {
    const res = await t.call('listStaffPermissions', { parent, pageSize: 4, pageToken });
    expect(res.staffPermissions.length).toBeLessThanOrEqual(4);
    seen.push(...res.staffPermissions.map((p) => p.name.split('/')[3]!));
    pageToken = res.nextPageToken;
  } while (pageToken !== '');
  expect(seen).toEqual(ids);
  expect(await redis.getBuffer(cacheKeys.staffPermissionList(a).key)).toBeNull();
  expect(await metricValue(t.running, 'settings_cache_fills_total', { space: 'staff-permission-lists', result: 'written' })).toBe(0);
});

it('a small list of the same account shape is still cached whole', async () => {
  const a = newAccount();
  const parent = `accounts/${a}`;
  await t.call('createStaffPermission', { parent, staffPermissionId: 's1', staffPermission: StaffPermission.fromPartial({ role: Role.ROLE_NURSE, permissions: permissions(2) }) }, { token });
  expect((await t.call('listStaffPermissions', { parent, pageSize: 0, pageToken: '' })).staffPermissions).toHaveLength(1);
  // The fill does not delay the response (read-through.ts answers, then fills): awaited, not read once.
  await waitFor(async () => (await redis.getBuffer(cacheKeys.staffPermissionList(a).key)) !== null, 5000, 'list cached');
});

it('100,000 malformed permissions are one violation about the length', async () => {
  const a = newAccount();
  const err = await expectError(() =>
    t.call('createStaffPermission', { parent: `accounts/${a}`, staffPermissionId: 's1', staffPermission: StaffPermission.fromPartial({ role: Role.ROLE_NURSE, permissions: Array.from({ length: 100_000 }, () => 'X') }) }, { token }),
  );
  expect(err.fieldViolations).toEqual([{ field: 'staff_permission.permissions', description: 'at most 200 permissions' }]);
});

it('an update mask of 100,000 unknown paths is one violation about the length', async () => {
  const a = newAccount();
  const err = await expectError(() =>
    t.call('updateDoctorSettings', { doctorSettings: DoctorSettings.fromPartial({ name: `accounts/${a}/doctors/d1/settings`, displayName: 'x' }), updateMask: Array.from({ length: 100_000 }, (_, i) => `p${i}`), allowMissing: true }),
  );
  expect(err.fieldViolations).toEqual([{ field: 'update_mask.paths', description: 'at most 100 paths' }]);
});

// Echoed whole, the path made a trailer larger than the client accepts: the call hung until its
// deadline (DEADLINE_EXCEEDED) instead of failing, and the connection stalled.
it('an unknown mask path of 40,000 characters is INVALID_ARGUMENT at once with a short violation, and the same client is served afterwards', async () => {
  const a = newAccount();
  const name = `accounts/${a}/settings`;
  await t.call('updateAccountSettings', { accountSettings: AccountSettings.fromPartial({ name, displayName: 'before' }), allowMissing: true });
  const path = 'p'.repeat(40_000);
  const started = Date.now();
  const err = await expectError(() => t.call('updateAccountSettings', { accountSettings: AccountSettings.fromPartial({ name, displayName: 'x' }), updateMask: [path], allowMissing: false }, { deadlineMs: 3000 }));
  expect(status[err.code]).toBe('INVALID_ARGUMENT');
  expect(Date.now() - started).toBeLessThan(2000);
  expect(err.fieldViolations).toEqual([{ field: 'update_mask.paths[0]', description: `unknown or read-only field path "${'p'.repeat(64)}…(40000 characters)"` }]);
  expect(err.message.length).toBeLessThan(200);
  expect((await t.call('getAccountSettings', { name }, { deadlineMs: 3000 })).displayName).toBe('before');
});

it(`reports the first ${MAX_REPORTED_VIOLATIONS} violations and one counting the rest`, async () => {
  const a = newAccount();
  // 50 entries (the length cap), each with three problems: 150 violations.
  const workingHours = Array.from({ length: 50 }, () => ({ dayOfWeek: DayOfWeek.DAY_OF_WEEK_UNSPECIFIED, startTime: 'nine', endTime: 'five' }));
  const err = await expectError(() =>
    t.call('updateDoctorSettings', { doctorSettings: DoctorSettings.fromPartial({ name: `accounts/${a}/doctors/d1/settings`, workingHours }), updateMask: ['working_hours'], allowMissing: true }),
  );
  expect(err.fieldViolations).toHaveLength(MAX_REPORTED_VIOLATIONS + 1);
  expect(err.fieldViolations[0]!.field).toBe('doctor_settings.working_hours[0].day_of_week');
  expect(err.fieldViolations[MAX_REPORTED_VIOLATIONS]!.description).toBe(`${150 - MAX_REPORTED_VIOLATIONS} more violation(s) not listed (only the first ${MAX_REPORTED_VIOLATIONS} are reported)`);
  expect(err.message).toMatch(/\(and 149 more\)$/);
});
