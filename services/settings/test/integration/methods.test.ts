import { AccountSettings, DayOfWeek, DoctorSettings, OnPatientSettings, Role, StaffPermission } from '@settings/api';
import { decodeToken } from '../../src/consistency/token';
import { accountsDeletedAfterAll, expectError, serverForTests, uniqueId } from '../support/test-server';

/** Every RPC's happy path through a real grpc-js client against the in-process server. */
const account = accountsDeletedAfterAll();

const t = serverForTests();

describe('account settings', () => {
  it('creates with allow_missing, reads back, updates masked fields only, batch-gets in order', async () => {
    const a = account();
    const name = `accounts/${a}/settings`;
    const created = await t.call('updateAccountSettings', {
      accountSettings: AccountSettings.fromPartial({ name, displayName: 'Sunrise Clinic', timeZone: 'America/New_York', appointmentDefaults: { slotGranularityMinutes: 30 } }),
      updateMask: ['display_name', 'time_zone', 'appointment_defaults.slot_granularity_minutes'],
      allowMissing: true,
    });
    expect(created).toMatchObject({ name, displayName: 'Sunrise Clinic', timeZone: 'America/New_York', locale: 'en-US' });
    expect(created.appointmentDefaults).toEqual({ defaultDurationMinutes: 30, slotGranularityMinutes: 30, allowDoubleBooking: false });
    expect(created.etag).toMatch(/^[1-9][0-9]*$/);
    expect(decodeToken(created.consistencyToken).version).toBe(BigInt(created.etag));
    expect(created.updateTime).toBeInstanceOf(Date);

    const read = await t.call('getAccountSettings', { name });
    expect(read).toEqual(created);

    // Implied mask (AIP-134): only populated fields are written; the locale is canonicalised.
    const updated = await t.call('updateAccountSettings', {
      accountSettings: AccountSettings.fromPartial({ name, locale: 'de-de', etag: created.etag }),
      allowMissing: false,
    });
    expect(updated).toMatchObject({ displayName: 'Sunrise Clinic', locale: 'de-DE', timeZone: 'America/New_York' });
    expect(BigInt(updated.etag)).toBeGreaterThan(BigInt(created.etag));

    const b = account();
    await t.call('updateAccountSettings', { accountSettings: AccountSettings.fromPartial({ name: `accounts/${b}/settings`, displayName: 'B' }), allowMissing: true });
    const batch = await t.call('batchGetAccountSettings', { names: [`accounts/${b}/settings`, name, `accounts/${b}/settings`] });
    expect(batch.accountSettings.map((s) => s.displayName)).toEqual(['B', 'Sunrise Clinic', 'B']);
  });

  it('a stale etag fails with ABORTED and a missing resource without allow_missing with NOT_FOUND', async () => {
    const a = account();
    const name = `accounts/${a}/settings`;
    expect((await expectError(() => t.call('getAccountSettings', { name }))).code).toBe(5);
    expect((await expectError(() => t.call('updateAccountSettings', { accountSettings: AccountSettings.fromPartial({ name, displayName: 'x' }), allowMissing: false }))).code).toBe(5);
    const v1 = await t.call('updateAccountSettings', { accountSettings: AccountSettings.fromPartial({ name, displayName: 'one' }), allowMissing: true });
    await t.call('updateAccountSettings', { accountSettings: AccountSettings.fromPartial({ name, displayName: 'two' }), allowMissing: false });
    const err = await expectError(() => t.call('updateAccountSettings', { accountSettings: AccountSettings.fromPartial({ name, displayName: 'three', etag: v1.etag }), allowMissing: false }));
    expect(err).toMatchObject({ code: 10, reason: 'ETAG_MISMATCH' });
    const batchErr = await expectError(() => t.call('batchGetAccountSettings', { names: [name, `accounts/${uniqueId()}/settings`] }));
    expect(batchErr.code).toBe(5);
  });

  it('two concurrent allow_missing saves of a resource that does not exist yet both succeed: one inserts, the other updates', async () => {
    // Two: more saves of one row than DB_LOCK_WAIT_MAX_CONCURRENCY waiting for its lock are
    // refused ABORTED ROW_LOCKED by design (README, bulkheads).
    const name = `accounts/${account()}/settings`;
    const saves = await Promise.all(
      Array.from({ length: 2 }, (_, i) => t.call('updateAccountSettings', { accountSettings: AccountSettings.fromPartial({ name, displayName: `writer ${i}` }), allowMissing: true })),
    );
    // Two distinct versions: each save was applied, neither refused nor lost.
    expect(new Set(saves.map((s) => s.etag)).size).toBe(2);
    const last = saves.reduce((a, b) => (BigInt(a.etag) > BigInt(b.etag) ? a : b));
    const read = await t.call('getAccountSettings', { name, consistency: { requirement: { $case: 'fullyConsistent', value: true } } });
    expect(read).toMatchObject({ etag: last.etag, displayName: last.displayName });
  });
});

describe('doctor settings', () => {
  it('writes working hours and alerts, reads them back singly and in a batch under a parent', async () => {
    const a = account();
    const name = `accounts/${a}/doctors/dr-jane/settings`;
    const written = await t.call('updateDoctorSettings', {
      doctorSettings: DoctorSettings.fromPartial({
        name,
        displayName: 'Dr. Jane Doe, MD',
        specialty: 'Family Medicine',
        defaultAppointmentDurationMinutes: 20,
        onlineBookingEnabled: true,
        workingHours: [
          { dayOfWeek: DayOfWeek.DAY_OF_WEEK_MONDAY, startTime: '09:00', endTime: '12:00' },
          { dayOfWeek: DayOfWeek.DAY_OF_WEEK_MONDAY, startTime: '13:00', endTime: '17:00' },
          { dayOfWeek: DayOfWeek.DAY_OF_WEEK_FRIDAY, startTime: '08:00', endTime: '24:00' },
        ],
        notificationPreferences: { dailyAgendaEmailEnabled: true, newBookingAlertsEnabled: false, cancellationAlertsEnabled: true },
      }),
      updateMask: ['*'],
      allowMissing: true,
    });
    expect(written.workingHours).toHaveLength(3);
    expect(written.notificationPreferences).toEqual({ newBookingAlertsEnabled: false, cancellationAlertsEnabled: true, dailyAgendaEmailEnabled: true });
    expect(await t.call('getDoctorSettings', { name })).toEqual(written);

    const other = `accounts/${a}/doctors/dr-bob/settings`;
    await t.call('updateDoctorSettings', { doctorSettings: DoctorSettings.fromPartial({ name: other, displayName: 'Dr. Bob' }), allowMissing: true });
    const batch = await t.call('batchGetDoctorSettings', { parent: `accounts/${a}`, names: [other, name] });
    expect(batch.doctorSettings.map((d) => d.displayName)).toEqual(['Dr. Bob', 'Dr. Jane Doe, MD']);

    // A message path in the mask replaces all of its leaves.
    const cleared = await t.call('updateDoctorSettings', {
      doctorSettings: DoctorSettings.fromPartial({ name, etag: written.etag }),
      updateMask: ['notification_preferences', 'working_hours'],
      allowMissing: false,
    });
    expect(cleared.workingHours).toEqual([]);
    expect(cleared.notificationPreferences).toEqual({ newBookingAlertsEnabled: false, cancellationAlertsEnabled: false, dailyAgendaEmailEnabled: false });
    expect(cleared.displayName).toBe('Dr. Jane Doe, MD');
  });
});

describe('OnPatient settings', () => {
  it('is created by an allow_missing update with unset messaging off, then read and batch-got', async () => {
    const a = account();
    const name = `accounts/${a}/onpatientSettings`;
    const created = await t.call('updateOnPatientSettings', {
      onpatientSettings: OnPatientSettings.fromPartial({ name, portalEnabled: true, labResultsEnabled: true, labResultsReleaseDelayHours: 72, welcomeMessage: 'Welcome!' }),
      allowMissing: true,
    });
    expect(created).toMatchObject({ portalEnabled: true, messagingEnabled: false, labResultsReleaseDelayHours: 72, welcomeMessage: 'Welcome!' });
    expect(await t.call('getOnPatientSettings', { name, consistency: { requirement: { $case: 'fullyConsistent', value: true } } })).toEqual(created);
    const batch = await t.call('batchGetOnPatientSettings', { names: [name] });
    expect(batch.onpatientSettings).toEqual([created]);
  });
});

describe('staff permissions', () => {
  it('creates, gets, batch-gets, lists in pages, updates and deletes grants', async () => {
    const a = account();
    const parent = `accounts/${a}`;
    const empty = await t.call('listStaffPermissions', { parent, pageSize: 0, pageToken: '' });
    expect(empty).toEqual({ staffPermissions: [], nextPageToken: '' });

    const ids = ['s-carol', 's-alice', 's-bob', 's-dave', 's-erin'];
    for (const id of ids) {
      await t.call('createStaffPermission', {
        parent,
        staffPermissionId: id,
        staffPermission: StaffPermission.fromPartial({ role: Role.ROLE_NURSE, permissions: ['billing.read', 'appointments.read', 'billing.read'] }),
      });
    }
    const alice = await t.call('getStaffPermission', { name: `${parent}/staffPermissions/s-alice` });
    expect(alice).toMatchObject({ name: `${parent}/staffPermissions/s-alice`, role: Role.ROLE_NURSE, permissions: ['appointments.read', 'billing.read'], disabled: false });
    expect(alice.createTime).toBeInstanceOf(Date);

    const batch = await t.call('batchGetStaffPermissions', { parent, names: [`${parent}/staffPermissions/s-bob`, `${parent}/staffPermissions/s-alice`] });
    expect(batch.staffPermissions.map((p) => p.name.split('/')[3])).toEqual(['s-bob', 's-alice']);

    const seen: string[] = [];
    let pageToken = '';
    do {
      const page = await t.call('listStaffPermissions', { parent, pageSize: 2, pageToken });
      expect(page.staffPermissions.length).toBeLessThanOrEqual(2);
      seen.push(...page.staffPermissions.map((p) => p.name.split('/')[3]!));
      pageToken = page.nextPageToken;
    } while (pageToken !== '');
    expect(seen).toEqual([...ids].sort());

    const updated = await t.call('updateStaffPermission', {
      staffPermission: StaffPermission.fromPartial({ name: alice.name, role: Role.ROLE_ADMIN, disabled: true, etag: alice.etag }),
      updateMask: ['role', 'disabled'],
    });
    expect(updated).toMatchObject({ role: Role.ROLE_ADMIN, disabled: true, permissions: ['appointments.read', 'billing.read'] });

    const deleted = await t.call('deleteStaffPermission', { name: alice.name, etag: updated.etag });
    expect(deleted).toMatchObject({ name: alice.name, role: Role.ROLE_ADMIN });
    expect(decodeToken(deleted.consistencyToken).version).toBeGreaterThan(BigInt(updated.etag));
    expect((await expectError(() => t.call('getStaffPermission', { name: alice.name, consistency: { requirement: { $case: 'atLeastAsFresh', value: deleted.consistencyToken } } }))).code).toBe(5);
    const after = await t.call('listStaffPermissions', { parent, pageSize: 100, pageToken: '', consistency: { requirement: { $case: 'atLeastAsFresh', value: deleted.consistencyToken } } });
    expect(after.staffPermissions.map((p) => p.name.split('/')[3])).toEqual(['s-bob', 's-carol', 's-dave', 's-erin']);

    const dup = await expectError(() => t.call('createStaffPermission', { parent, staffPermissionId: 's-bob', staffPermission: StaffPermission.fromPartial({ role: Role.ROLE_BILLING }) }));
    expect(dup.code).toBe(6);
  });
});
