import { status } from '@grpc/grpc-js';
import { AccountSettings, DayOfWeek, DoctorSettings, OnPatientSettings, Role, StaffPermission } from '@settings/api';
import { encodePageToken } from '../../src/grpc/staff-permissions/page-token';
import { deleteAccounts, expectError, metricValue, mintToken, serverForTests, uniqueId, type CallOpts, type MethodName, type RequestOf } from '../support/test-server';

/**
 * Bad requests and the status each must produce (AIP-193). INVALID_ARGUMENT cases also name the
 * field violation path the caller gets in google.rpc.BadRequest. Every range here is also a
 * database CHECK: the service must reject it itself, so no constraint error ever leaks.
 */
const a = uniqueId();
const other = uniqueId();
let existingEtag = '';

const t = serverForTests();
beforeAll(async () => {
  await t.call('updateAccountSettings', { accountSettings: AccountSettings.fromPartial({ name: `accounts/${a}/settings`, displayName: 'x' }), allowMissing: true });
  const grant = await t.call('createStaffPermission', { parent: `accounts/${a}`, staffPermissionId: 's-exists', staffPermission: StaffPermission.fromPartial({ role: Role.ROLE_NURSE }) });
  existingEtag = grant.etag;
});
afterAll(() => deleteAccounts([a, other]));

interface Case<K extends MethodName = MethodName> {
  what: string;
  method: K;
  req: () => RequestOf<K>;
  code: status;
  field?: string;
  opts?: () => Promise<CallOpts>;
}
const c = <K extends MethodName>(x: Case<K>): Case => x as unknown as Case;

const acct = (s: Partial<AccountSettings>, mask: string[] = Object.keys(s).filter((k) => k !== 'name').map(snake)) =>
  ({ accountSettings: AccountSettings.fromPartial({ name: `accounts/${a}/settings`, ...s }), updateMask: mask, allowMissing: true });
const doctor = (s: Partial<DoctorSettings>, mask: string[]) => ({ doctorSettings: DoctorSettings.fromPartial({ name: `accounts/${a}/doctors/d1/settings`, ...s }), updateMask: mask, allowMissing: true });
const onpatient = (s: Partial<OnPatientSettings>, mask: string[]) => ({ onpatientSettings: OnPatientSettings.fromPartial({ name: `accounts/${a}/onpatientSettings`, ...s }), updateMask: mask, allowMissing: true });
const create = (id: string, p: Partial<StaffPermission> | undefined) => ({ parent: `accounts/${a}`, staffPermissionId: id, staffPermission: p && StaffPermission.fromPartial(p) });
const wh = (dayOfWeek: DayOfWeek, startTime: string, endTime: string) => ({ dayOfWeek, startTime, endTime });
const fresh = (value: string) => ({ requirement: { $case: 'atLeastAsFresh' as const, value } });
function snake(k: string): string {
  return k.replace(/[A-Z]/g, (m) => `_${m.toLowerCase()}`);
}

const { INVALID_ARGUMENT, NOT_FOUND, ALREADY_EXISTS, ABORTED, UNAUTHENTICATED } = status;

const cases: Case[] = [
  // names
  c({ what: 'empty name', method: 'getAccountSettings', req: () => ({ name: '' }), code: INVALID_ARGUMENT, field: 'name' }),
  c({ what: 'upper-case account id', method: 'getAccountSettings', req: () => ({ name: 'accounts/ABC/settings' }), code: INVALID_ARGUMENT, field: 'name' }),
  c({ what: 'trailing segment', method: 'getAccountSettings', req: () => ({ name: `accounts/${a}/settings/x` }), code: INVALID_ARGUMENT, field: 'name' }),
  c({ what: 'key-forging account id', method: 'getAccountSettings', req: () => ({ name: 'accounts/x}:evil/settings' }), code: INVALID_ARGUMENT, field: 'name' }),
  c({ what: 'collection instead of resource', method: 'getAccountSettings', req: () => ({ name: `accounts/${a}` }), code: INVALID_ARGUMENT, field: 'name' }),
  c({ what: 'id longer than 63 chars', method: 'getOnPatientSettings', req: () => ({ name: `accounts/${'a'.repeat(64)}/onpatientSettings` }), code: INVALID_ARGUMENT, field: 'name' }),
  c({ what: 'doctor name with empty doctor id', method: 'getDoctorSettings', req: () => ({ name: `accounts/${a}/doctors//settings` }), code: INVALID_ARGUMENT, field: 'name' }),
  c({ what: 'staff name with wildcard', method: 'getStaffPermission', req: () => ({ name: `accounts/${a}/staffPermissions/*` }), code: INVALID_ARGUMENT, field: 'name' }),
  // consistency tokens
  c({ what: 'garbage token', method: 'getAccountSettings', req: () => ({ name: `accounts/${a}/settings`, consistency: fresh('not a token!') }), code: INVALID_ARGUMENT, field: 'consistency.at_least_as_fresh' }),
  c({ what: 'empty token', method: 'getAccountSettings', req: () => ({ name: `accounts/${a}/settings`, consistency: fresh('') }), code: INVALID_ARGUMENT, field: 'consistency.at_least_as_fresh' }),
  c({ what: 'token of an unknown format version', method: 'getAccountSettings', req: () => ({ name: `accounts/${a}/settings`, consistency: fresh(Buffer.from('v2:5').toString('base64url')) }), code: INVALID_ARGUMENT, field: 'consistency.at_least_as_fresh' }),
  // A token the service did not sign could force a PostgreSQL read per call (a far-future version).
  c({ what: 'unsigned far-future token', method: 'getAccountSettings', req: () => ({ name: `accounts/${a}/settings`, consistency: fresh(Buffer.from('v1:999999999999').toString('base64url')) }), code: INVALID_ARGUMENT, field: 'consistency.at_least_as_fresh' }),
  c({ what: 'forged token (well-formed, wrong MAC)', method: 'getAccountSettings', req: () => ({ name: `accounts/${a}/settings`, consistency: fresh(`${Buffer.from('v1:999999999999').toString('base64url')}.${'A'.repeat(22)}`) }), code: INVALID_ARGUMENT, field: 'consistency.at_least_as_fresh' }),
  c({ what: 'token on a list read', method: 'listStaffPermissions', req: () => ({ parent: `accounts/${a}`, pageSize: 0, pageToken: '', consistency: fresh('dj') }), code: INVALID_ARGUMENT, field: 'consistency.at_least_as_fresh' }),
  // batches
  c({ what: 'empty batch', method: 'batchGetAccountSettings', req: () => ({ names: [] }), code: INVALID_ARGUMENT, field: 'names' }),
  c({ what: 'batch over 100 names', method: 'batchGetAccountSettings', req: () => ({ names: Array.from({ length: 101 }, () => `accounts/${a}/settings`) }), code: INVALID_ARGUMENT, field: 'names' }),
  c({ what: 'one malformed name in a batch', method: 'batchGetOnPatientSettings', req: () => ({ names: [`accounts/${a}/onpatientSettings`, 'nope'] }), code: INVALID_ARGUMENT, field: 'names[1]' }),
  c({ what: 'batch name outside its parent', method: 'batchGetDoctorSettings', req: () => ({ parent: `accounts/${a}`, names: [`accounts/${other}/doctors/d1/settings`] }), code: INVALID_ARGUMENT, field: 'names[0]' }),
  c({ what: 'malformed batch parent', method: 'batchGetStaffPermissions', req: () => ({ parent: 'accounts/', names: [`accounts/${a}/staffPermissions/s-exists`] }), code: INVALID_ARGUMENT, field: 'parent' }),
  // update masks and envelopes
  c({ what: 'update without the resource', method: 'updateAccountSettings', req: () => ({ updateMask: ['display_name'], allowMissing: true }), code: INVALID_ARGUMENT, field: 'account_settings' }),
  c({ what: 'update without a name', method: 'updateAccountSettings', req: () => ({ accountSettings: AccountSettings.fromPartial({ displayName: 'x' }), allowMissing: true }), code: INVALID_ARGUMENT, field: 'account_settings.name' }),
  c({ what: 'unknown mask path', method: 'updateAccountSettings', req: () => acct({ displayName: 'x' }, ['display_name', 'favourite_colour']), code: INVALID_ARGUMENT, field: 'update_mask.paths[1]' }),
  c({ what: 'camelCase mask path', method: 'updateAccountSettings', req: () => acct({ displayName: 'x' }, ['displayName']), code: INVALID_ARGUMENT, field: 'update_mask.paths[0]' }),
  c({ what: '"*" combined with other paths', method: 'updateAccountSettings', req: () => acct({ displayName: 'x' }, ['*', 'display_name']), code: INVALID_ARGUMENT, field: 'update_mask.paths' }),
  c({ what: 'non-numeric etag', method: 'updateAccountSettings', req: () => acct({ displayName: 'x', etag: 'W/"abc"' }, ['display_name']), code: INVALID_ARGUMENT, field: 'account_settings.etag' }),
  // Nineteen digits, above bigint's maximum (2^63 − 1): never a version, and PostgreSQL cannot compare it.
  c({ what: 'etag above bigint\'s maximum on a singleton update', method: 'updateAccountSettings', req: () => acct({ displayName: 'x', etag: '9999999999999999999' }, ['display_name']), code: INVALID_ARGUMENT, field: 'account_settings.etag' }),
  c({ what: 'etag of 2^63 on a singleton update that would create it', method: 'updateDoctorSettings', req: () => doctor({ displayName: 'x', etag: '9223372036854775808' }, ['display_name']), code: INVALID_ARGUMENT, field: 'doctor_settings.etag' }),
  c({ what: 'etag at bigint\'s maximum is a stale etag, not a malformed one', method: 'updateAccountSettings', req: () => acct({ displayName: 'x', etag: '9223372036854775807' }, ['display_name']), code: ABORTED }),
  // account settings values
  c({ what: 'unknown time zone', method: 'updateAccountSettings', req: () => acct({ timeZone: 'Mars/Olympus_Mons' }), code: INVALID_ARGUMENT, field: 'account_settings.time_zone' }),
  c({ what: 'empty time zone under "*"', method: 'updateAccountSettings', req: () => acct({ locale: 'en-US' }, ['*']), code: INVALID_ARGUMENT, field: 'account_settings.time_zone' }),
  c({ what: 'invalid locale', method: 'updateAccountSettings', req: () => acct({ locale: 'not a locale!' }), code: INVALID_ARGUMENT, field: 'account_settings.locale' }),
  c({ what: 'display name over 200 chars', method: 'updateAccountSettings', req: () => acct({ displayName: 'x'.repeat(201) }), code: INVALID_ARGUMENT, field: 'account_settings.display_name' }),
  c({ what: 'NUL in display name', method: 'updateAccountSettings', req: () => acct({ displayName: 'a\u0000b' }), code: INVALID_ARGUMENT, field: 'account_settings.display_name' }),
  c({ what: 'phone without +', method: 'updateAccountSettings', req: () => acct({ contactPhoneNumber: '4155550100' }), code: INVALID_ARGUMENT, field: 'account_settings.contact_phone_number' }),
  c({ what: 'malformed e-mail', method: 'updateAccountSettings', req: () => acct({ contactEmail: 'not-an-email' }), code: INVALID_ARGUMENT, field: 'account_settings.contact_email' }),
  c({ what: 'appointment duration 4', method: 'updateAccountSettings', req: () => acct({ appointmentDefaults: { defaultDurationMinutes: 4, slotGranularityMinutes: 15, allowDoubleBooking: false } }, ['appointment_defaults.default_duration_minutes']), code: INVALID_ARGUMENT, field: 'account_settings.appointment_defaults.default_duration_minutes' }),
  c({ what: 'appointment duration 481', method: 'updateAccountSettings', req: () => acct({ appointmentDefaults: { defaultDurationMinutes: 481, slotGranularityMinutes: 15, allowDoubleBooking: false } }, ['appointment_defaults']), code: INVALID_ARGUMENT, field: 'account_settings.appointment_defaults.default_duration_minutes' }),
  c({ what: 'slot granularity 7', method: 'updateAccountSettings', req: () => acct({ appointmentDefaults: { defaultDurationMinutes: 30, slotGranularityMinutes: 7, allowDoubleBooking: false } }, ['appointment_defaults.slot_granularity_minutes']), code: INVALID_ARGUMENT, field: 'account_settings.appointment_defaults.slot_granularity_minutes' }),
  c({ what: 'reminder lead 0 h', method: 'updateAccountSettings', req: () => acct({ notificationPreferences: { reminderLeadHours: 0, emailRemindersEnabled: true, smsRemindersEnabled: false } }, ['notification_preferences.reminder_lead_hours']), code: INVALID_ARGUMENT, field: 'account_settings.notification_preferences.reminder_lead_hours' }),
  c({ what: 'reminder lead 169 h', method: 'updateAccountSettings', req: () => acct({ notificationPreferences: { reminderLeadHours: 169, emailRemindersEnabled: true, smsRemindersEnabled: false } }, ['notification_preferences']), code: INVALID_ARGUMENT, field: 'account_settings.notification_preferences.reminder_lead_hours' }),
  c({ what: 'lower-case currency', method: 'updateAccountSettings', req: () => acct({ billing: { currencyCode: 'usd', groupNpi: '', patientStatementsEnabled: true, statementDueDays: 30 } }, ['billing.currency_code']), code: INVALID_ARGUMENT, field: 'account_settings.billing.currency_code' }),
  c({ what: 'made-up currency', method: 'updateAccountSettings', req: () => acct({ billing: { currencyCode: 'QQQ', groupNpi: '', patientStatementsEnabled: true, statementDueDays: 30 } }, ['billing.currency_code']), code: INVALID_ARGUMENT, field: 'account_settings.billing.currency_code' }),
  c({ what: 'NPI of 3 digits', method: 'updateAccountSettings', req: () => acct({ billing: { currencyCode: 'USD', groupNpi: '123', patientStatementsEnabled: true, statementDueDays: 30 } }, ['billing.group_npi']), code: INVALID_ARGUMENT, field: 'account_settings.billing.group_npi' }),
  c({ what: 'statement due in 121 days', method: 'updateAccountSettings', req: () => acct({ billing: { currencyCode: 'USD', groupNpi: '', patientStatementsEnabled: true, statementDueDays: 121 } }, ['billing.statement_due_days']), code: INVALID_ARGUMENT, field: 'account_settings.billing.statement_due_days' }),
  // doctor settings values
  c({ what: 'doctor duration 3', method: 'updateDoctorSettings', req: () => doctor({ defaultAppointmentDurationMinutes: 3 }, ['default_appointment_duration_minutes']), code: INVALID_ARGUMENT, field: 'doctor_settings.default_appointment_duration_minutes' }),
  c({ what: 'specialty over 100 chars', method: 'updateDoctorSettings', req: () => doctor({ specialty: 's'.repeat(101) }, ['specialty']), code: INVALID_ARGUMENT, field: 'doctor_settings.specialty' }),
  c({ what: 'start time 9:00', method: 'updateDoctorSettings', req: () => doctor({ workingHours: [wh(DayOfWeek.DAY_OF_WEEK_MONDAY, '9:00', '17:00')] }, ['working_hours']), code: INVALID_ARGUMENT, field: 'doctor_settings.working_hours[0].start_time' }),
  c({ what: 'end before start', method: 'updateDoctorSettings', req: () => doctor({ workingHours: [wh(DayOfWeek.DAY_OF_WEEK_MONDAY, '17:00', '09:00')] }, ['working_hours']), code: INVALID_ARGUMENT, field: 'doctor_settings.working_hours[0].end_time' }),
  c({ what: 'overlapping intervals', method: 'updateDoctorSettings', req: () => doctor({ workingHours: [wh(DayOfWeek.DAY_OF_WEEK_MONDAY, '09:00', '13:00'), wh(DayOfWeek.DAY_OF_WEEK_MONDAY, '12:00', '17:00')] }, ['working_hours']), code: INVALID_ARGUMENT, field: 'doctor_settings.working_hours[1]' }),
  c({ what: 'unspecified day', method: 'updateDoctorSettings', req: () => doctor({ workingHours: [wh(DayOfWeek.DAY_OF_WEEK_UNSPECIFIED, '09:00', '17:00')] }, ['working_hours']), code: INVALID_ARGUMENT, field: 'doctor_settings.working_hours[0].day_of_week' }),
  c({ what: '51 working-hour entries', method: 'updateDoctorSettings', req: () => doctor({ workingHours: Array.from({ length: 51 }, (_, i) => wh(1 + (i % 7), `${String(i % 24).padStart(2, '0')}:00`, `${String(i % 24).padStart(2, '0')}:30`)) }, ['working_hours']), code: INVALID_ARGUMENT, field: 'doctor_settings.working_hours' }),
  // OnPatient values
  c({ what: 'lab result delay 721 h', method: 'updateOnPatientSettings', req: () => onpatient({ labResultsReleaseDelayHours: 721 }, ['lab_results_release_delay_hours']), code: INVALID_ARGUMENT, field: 'onpatient_settings.lab_results_release_delay_hours' }),
  c({ what: 'welcome message over 2000 chars', method: 'updateOnPatientSettings', req: () => onpatient({ welcomeMessage: 'w'.repeat(2001) }, ['welcome_message']), code: INVALID_ARGUMENT, field: 'onpatient_settings.welcome_message' }),
  c({ what: 'support phone starting +0', method: 'updateOnPatientSettings', req: () => onpatient({ supportPhoneNumber: '+0123456' }, ['support_phone_number']), code: INVALID_ARGUMENT, field: 'onpatient_settings.support_phone_number' }),
  // staff permissions
  c({ what: 'negative page size', method: 'listStaffPermissions', req: () => ({ parent: `accounts/${a}`, pageSize: -1, pageToken: '' }), code: INVALID_ARGUMENT, field: 'page_size' }),
  c({ what: 'garbage page token', method: 'listStaffPermissions', req: () => ({ parent: `accounts/${a}`, pageSize: 10, pageToken: 'garbage!' }), code: INVALID_ARGUMENT, field: 'page_token' }),
  c({ what: 'page token of another account', method: 'listStaffPermissions', req: () => ({ parent: `accounts/${a}`, pageSize: 10, pageToken: encodePageToken(other, 's1') }), code: INVALID_ARGUMENT, field: 'page_token' }),
  c({ what: 'list parent that is not an account', method: 'listStaffPermissions', req: () => ({ parent: `accounts/${a}/settings`, pageSize: 10, pageToken: '' }), code: INVALID_ARGUMENT, field: 'parent' }),
  c({ what: 'staff id with spaces', method: 'createStaffPermission', req: () => create('Bad Id', { role: Role.ROLE_NURSE }), code: INVALID_ARGUMENT, field: 'staff_permission_id' }),
  c({ what: 'create without a grant', method: 'createStaffPermission', req: () => create('s-new', undefined), code: INVALID_ARGUMENT, field: 'staff_permission' }),
  c({ what: 'ROLE_UNSPECIFIED', method: 'createStaffPermission', req: () => create('s-new', { role: Role.ROLE_UNSPECIFIED }), code: INVALID_ARGUMENT, field: 'staff_permission.role' }),
  c({ what: 'permission not area.action', method: 'createStaffPermission', req: () => create('s-new', { role: Role.ROLE_NURSE, permissions: ['appointments.read', 'Billing.Read'] }), code: INVALID_ARGUMENT, field: 'staff_permission.permissions[1]' }),
  c({ what: '201 distinct permissions', method: 'createStaffPermission', req: () => create('s-new', { role: Role.ROLE_NURSE, permissions: Array.from({ length: 201 }, (_, i) => `area${i}.read`) }), code: INVALID_ARGUMENT, field: 'staff_permission.permissions' }),
  c({ what: 'update setting role to unspecified', method: 'updateStaffPermission', req: () => ({ staffPermission: StaffPermission.fromPartial({ name: `accounts/${a}/staffPermissions/s-exists` }), updateMask: ['role'] }), code: INVALID_ARGUMENT, field: 'staff_permission.role' }),
  c({ what: 'delete with a negative etag', method: 'deleteStaffPermission', req: () => ({ name: `accounts/${a}/staffPermissions/s-exists`, etag: '-1' }), code: INVALID_ARGUMENT, field: 'etag' }),
  c({ what: 'grant update with an etag above bigint\'s maximum', method: 'updateStaffPermission', req: () => ({ staffPermission: StaffPermission.fromPartial({ name: `accounts/${a}/staffPermissions/s-exists`, disabled: true, etag: '9999999999999999999' }) }), code: INVALID_ARGUMENT, field: 'staff_permission.etag' }),
  c({ what: 'grant delete with an etag above bigint\'s maximum', method: 'deleteStaffPermission', req: () => ({ name: `accounts/${a}/staffPermissions/s-exists`, etag: '9999999999999999999' }), code: INVALID_ARGUMENT, field: 'etag' }),
  // not found / conflicts
  c({ what: 'missing account settings', method: 'getAccountSettings', req: () => ({ name: `accounts/${other}/settings` }), code: NOT_FOUND }),
  c({ what: 'missing grant', method: 'getStaffPermission', req: () => ({ name: `accounts/${a}/staffPermissions/s-nobody` }), code: NOT_FOUND }),
  c({ what: 'update of a missing grant', method: 'updateStaffPermission', req: () => ({ staffPermission: StaffPermission.fromPartial({ name: `accounts/${a}/staffPermissions/s-nobody`, disabled: true }) }), code: NOT_FOUND }),
  c({ what: 'delete of a missing grant', method: 'deleteStaffPermission', req: () => ({ name: `accounts/${a}/staffPermissions/s-nobody`, etag: '' }), code: NOT_FOUND }),
  c({ what: 'update of missing settings without allow_missing', method: 'updateOnPatientSettings', req: () => ({ ...onpatient({ portalEnabled: true }, ['portal_enabled']), allowMissing: false }), code: NOT_FOUND }),
  c({ what: 'duplicate grant', method: 'createStaffPermission', req: () => create('s-exists', { role: Role.ROLE_NURSE }), code: ALREADY_EXISTS }),
  c({ what: 'stale etag on a grant', method: 'updateStaffPermission', req: () => ({ staffPermission: StaffPermission.fromPartial({ name: `accounts/${a}/staffPermissions/s-exists`, disabled: true, etag: String(BigInt(existingEtag) - 1n) }) }), code: ABORTED }),
  c({ what: 'stale etag on delete', method: 'deleteStaffPermission', req: () => ({ name: `accounts/${a}/staffPermissions/s-exists`, etag: '1' }), code: ABORTED }),
  c({ what: 'etag on a resource that does not exist yet', method: 'updateDoctorSettings', req: () => doctor({ displayName: 'x', etag: '5' }, ['display_name']), code: ABORTED }),
  // transport limits
  c({ what: 'request over GRPC_MAX_MESSAGE_BYTES', method: 'updateOnPatientSettings', req: () => onpatient({ welcomeMessage: 'w'.repeat(2 * 1024 * 1024) }, ['welcome_message']), code: status.RESOURCE_EXHAUSTED }),
  // authentication
  c({ what: 'no bearer token', method: 'getAccountSettings', req: () => ({ name: `accounts/${a}/settings` }), code: UNAUTHENTICATED, opts: async () => ({ token: null }) }),
  c({ what: 'token signed with another secret', method: 'getAccountSettings', req: () => ({ name: `accounts/${a}/settings` }), code: UNAUTHENTICATED, opts: async () => ({ token: await mintToken({ secret: 'x'.repeat(40) }) }) }),
  c({ what: 'expired token', method: 'getAccountSettings', req: () => ({ name: `accounts/${a}/settings` }), code: UNAUTHENTICATED, opts: async () => ({ token: await mintToken({ expiresIn: '-5m' }) }) }),
  c({ what: 'token for another audience', method: 'getAccountSettings', req: () => ({ name: `accounts/${a}/settings` }), code: UNAUTHENTICATED, opts: async () => ({ token: await mintToken({ aud: 'billing-service' }) }) }),
  c({ what: 'token with malformed accounts claim', method: 'getAccountSettings', req: () => ({ name: `accounts/${a}/settings` }), code: UNAUTHENTICATED, opts: async () => ({ token: await mintToken({ accounts: 'all' }) }) }),
];

it('covers at least 40 bad inputs', () => {
  expect(cases.length).toBeGreaterThanOrEqual(40);
});

it.each(cases.map((x) => [x.what, x] as const))('%s', async (_what, x) => {
  const opts = x.opts ? await x.opts() : {};
  const err = await expectError(() => t.call(x.method, x.req(), opts));
  expect({ code: status[err.code] }).toEqual({ code: status[x.code] });
  if (x.code === INVALID_ARGUMENT) {
    expect(err.reason).toBe('INVALID_ARGUMENT');
    expect(err.fieldViolations.map((v) => v.field)).toContain(x.field);
  }
});

// README, Guarantees: a consistency token the service did not issue is refused before it can
// make the read a PostgreSQL read (a far-future version would otherwise force one per call).
it('a forged or unsigned consistency token is refused without a database query', async () => {
  const farFuture = Buffer.from('v1:999999999999').toString('base64url');
  const tokens = [`${farFuture}.${'A'.repeat(22)}`, farFuture];
  const before = await metricValue(t.running, 'settings_db_queries_total');
  for (const token of tokens) {
    for (let i = 0; i < 10; i++) {
      const err = await expectError(() => t.call('getAccountSettings', { name: `accounts/${a}/settings`, consistency: fresh(token) }));
      expect(status[err.code]).toBe('INVALID_ARGUMENT');
    }
  }
  expect(await metricValue(t.running, 'settings_db_queries_total')).toBe(before);
});

// README, Errors: one field violation per problem. The token's check used to throw on its own and
// drop the page_size violation found before it.
it('a List with a negative page size and a forged consistency token names both fields', async () => {
  const err = await expectError(() =>
    t.call('listStaffPermissions', { parent: `accounts/${a}`, pageSize: -1, pageToken: '', consistency: fresh('not a token!') }),
  );
  expect(status[err.code]).toBe('INVALID_ARGUMENT');
  expect(err.fieldViolations.map((v) => v.field).sort()).toEqual(['consistency.at_least_as_fresh', 'page_size']);
});
