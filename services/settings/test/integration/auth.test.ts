import { status } from '@grpc/grpc-js';
import { AccountSettings, DoctorSettings, OnPatientSettings, Role, StaffPermission } from '@settings/api';
import { deleteAccounts, expectError, mintToken, serverForTests, uniqueId, type MethodName, type RequestOf } from '../support/test-server';

/**
 * Tenancy: a token names the accounts its caller may use. Every method checks every account it
 * touches (each name of a batch too); a missing or bad token is UNAUTHENTICATED.
 */
const mine = uniqueId();
const theirs = uniqueId();
let tokenForMine = '';

const t = serverForTests();
beforeAll(async () => {
  tokenForMine = await mintToken({ sub: 'svc-mine', accounts: [mine] });
  // Give both accounts data, so a denial cannot be confused with NOT_FOUND.
  for (const a of [mine, theirs]) {
    await t.call('updateAccountSettings', { accountSettings: AccountSettings.fromPartial({ name: `accounts/${a}/settings`, displayName: a }), allowMissing: true });
    await t.call('createStaffPermission', { parent: `accounts/${a}`, staffPermissionId: 's1', staffPermission: StaffPermission.fromPartial({ role: Role.ROLE_ADMIN }) });
  }
});
afterAll(() => deleteAccounts([mine, theirs]));

type Req<K extends MethodName> = (a: string) => RequestOf<K>;
const requests: { [K in MethodName]: Req<K> } = {
  getAccountSettings: (a) => ({ name: `accounts/${a}/settings` }),
  batchGetAccountSettings: (a) => ({ names: [`accounts/${a}/settings`] }),
  updateAccountSettings: (a) => ({ accountSettings: AccountSettings.fromPartial({ name: `accounts/${a}/settings`, displayName: 'hijacked' }), allowMissing: true }),
  getDoctorSettings: (a) => ({ name: `accounts/${a}/doctors/d1/settings` }),
  // With the parent set: it is authorized like the names (README, tenancy: "and the `parent`").
  batchGetDoctorSettings: (a) => ({ parent: `accounts/${a}`, names: [`accounts/${a}/doctors/d1/settings`] }),
  updateDoctorSettings: (a) => ({ doctorSettings: DoctorSettings.fromPartial({ name: `accounts/${a}/doctors/d1/settings`, displayName: 'x' }), allowMissing: true }),
  getOnPatientSettings: (a) => ({ name: `accounts/${a}/onpatientSettings` }),
  batchGetOnPatientSettings: (a) => ({ names: [`accounts/${a}/onpatientSettings`] }),
  updateOnPatientSettings: (a) => ({ onpatientSettings: OnPatientSettings.fromPartial({ name: `accounts/${a}/onpatientSettings`, portalEnabled: true }), allowMissing: true }),
  getStaffPermission: (a) => ({ name: `accounts/${a}/staffPermissions/s1` }),
  batchGetStaffPermissions: (a) => ({ parent: '', names: [`accounts/${a}/staffPermissions/s1`] }),
  listStaffPermissions: (a) => ({ parent: `accounts/${a}`, pageSize: 0, pageToken: '' }),
  createStaffPermission: (a) => ({ parent: `accounts/${a}`, staffPermissionId: 's2', staffPermission: StaffPermission.fromPartial({ role: Role.ROLE_ADMIN }) }),
  updateStaffPermission: (a) => ({ staffPermission: StaffPermission.fromPartial({ name: `accounts/${a}/staffPermissions/s1`, role: Role.ROLE_ADMIN }), updateMask: ['role'] }),
  deleteStaffPermission: (a) => ({ name: `accounts/${a}/staffPermissions/s1`, etag: '' }),
};
const methods = Object.keys(requests) as MethodName[];
const READS = new Set<MethodName>(['getAccountSettings', 'batchGetAccountSettings', 'getDoctorSettings', 'batchGetDoctorSettings', 'getOnPatientSettings', 'batchGetOnPatientSettings', 'getStaffPermission', 'batchGetStaffPermissions', 'listStaffPermissions']);

it.each(methods)('%s: a token for account A cannot touch account B (PERMISSION_DENIED)', async (m) => {
  const err = await expectError(() => t.call(m, (requests[m] as Req<typeof m>)(theirs), { token: tokenForMine }));
  expect(status[err.code]).toBe('PERMISSION_DENIED');
});

it.each(methods)('%s: no token is UNAUTHENTICATED', async (m) => {
  const err = await expectError(() => t.call(m, (requests[m] as Req<typeof m>)(mine), { token: null }));
  expect(status[err.code]).toBe('UNAUTHENTICATED');
});

it('a batch with one foreign name among own names is denied as a whole', async () => {
  const err = await expectError(() =>
    t.call('batchGetAccountSettings', { names: [`accounts/${mine}/settings`, `accounts/${theirs}/settings`] }, { token: tokenForMine }),
  );
  expect(status[err.code]).toBe('PERMISSION_DENIED');
  expect(err.message).not.toContain('hijacked');
});

it('the denied writes changed nothing in the other account', async () => {
  const theirsNow = await t.call('getAccountSettings', { name: `accounts/${theirs}/settings`, consistency: { requirement: { $case: 'fullyConsistent', value: true } } });
  expect(theirsNow.displayName).toBe(theirs);
  expect((await t.call('listStaffPermissions', { parent: `accounts/${theirs}`, pageSize: 0, pageToken: '' })).staffPermissions).toHaveLength(1);
  // The account had no doctor or OnPatient settings (beforeAll); the denied upserts created none.
  const fully = { requirement: { $case: 'fullyConsistent' as const, value: true } };
  expect(status[(await expectError(() => t.call('getDoctorSettings', { name: `accounts/${theirs}/doctors/d1/settings`, consistency: fully }))).code]).toBe('NOT_FOUND');
  expect(status[(await expectError(() => t.call('getOnPatientSettings', { name: `accounts/${theirs}/onpatientSettings`, consistency: fully }))).code]).toBe('NOT_FOUND');
});

it('the own account is allowed', async () => {
  expect((await t.call('getAccountSettings', { name: `accounts/${mine}/settings` }, { token: tokenForMine })).displayName).toBe(mine);
});

it('a read-only scope may read but not write', async () => {
  const readOnly = await mintToken({ accounts: [mine], scope: 'settings.read' });
  for (const m of methods) {
    const call = t.call(m, (requests[m] as Req<typeof m>)(mine), { token: readOnly });
    if (READS.has(m)) {
      await call.catch((err: unknown) => {
        // Reads may be NOT_FOUND (no doctor/OnPatient data) but never denied.
        expect(status[(err as { code: number }).code]).toBe('NOT_FOUND');
      });
    } else {
      expect(status[(await expectError(() => call)).code]).toBe('PERMISSION_DENIED');
    }
  }
});

it('a token with neither scope may do nothing', async () => {
  const none = await mintToken({ accounts: ['*'], scope: 'billing.read' });
  expect(status[(await expectError(() => t.call('getAccountSettings', requests.getAccountSettings(mine), { token: none }))).code]).toBe('PERMISSION_DENIED');
});

const STAFF_WRITES = new Set<MethodName>(['createStaffPermission', 'updateStaffPermission', 'deleteStaffPermission']);

it('a token without a scope claim is read-only (JWT_UNSCOPED_TOKEN_SCOPES default)', async () => {
  const unscoped = await mintToken({ accounts: [mine], scope: null });
  for (const m of methods) {
    const call = t.call(m, (requests[m] as Req<typeof m>)(mine), { token: unscoped });
    if (READS.has(m)) {
      await call.catch((err: unknown) => expect(status[(err as { code: number }).code]).toBe('NOT_FOUND'));
    } else {
      const err = await expectError(() => call);
      expect({ m, code: status[err.code] }).toEqual({ m, code: 'PERMISSION_DENIED' });
    }
  }
});

it('settings.write writes settings but cannot change staff permissions; settings.permissions.write can', async () => {
  const settingsWriter = await mintToken({ accounts: [mine], scope: 'settings.write' });
  for (const m of STAFF_WRITES) {
    const err = await expectError(() => t.call(m, (requests[m] as Req<typeof m>)(mine), { token: settingsWriter }));
    expect({ m, code: status[err.code], message: err.message }).toEqual({ m, code: 'PERMISSION_DENIED', message: 'token lacks scope settings.permissions.write' });
  }
  await t.call('updateAccountSettings', requests.updateAccountSettings(mine), { token: settingsWriter });
  const permissionsAdmin = await mintToken({ accounts: [mine], scope: 'settings.permissions.write' });
  const created = await t.call('createStaffPermission', { parent: `accounts/${mine}`, staffPermissionId: 'scoped', staffPermission: StaffPermission.fromPartial({ role: Role.ROLE_ADMIN }) }, { token: permissionsAdmin });
  expect(created.name).toBe(`accounts/${mine}/staffPermissions/scoped`);
});

describe('AUTH_MODE=insecure-dev', () => {
  const dev = serverForTests({ AUTH_MODE: 'insecure-dev', JWT_HS256_SECRET: '' });

  it('trusts a caller without a token with any account', async () => {
    expect((await dev.call('getAccountSettings', requests.getAccountSettings(theirs), { token: null })).displayName).toBe(theirs);
  });
});
