import { AccountSettings, DayOfWeek, Role, StaffPermission } from '@settings/api';
import { Violations, SettingsError } from '../../src/errors';
import { decodePageToken, encodePageToken } from '../../src/grpc/staff-permissions/page-token';
import { accountSettings } from '../../src/resources/account-settings/account-settings';
import { accountSettingsFields } from '../../src/resources/account-settings/fields';
import { checks, canonicalLocale } from '../../src/resources/checks';
import { checkWorkingHours } from '../../src/resources/doctor-settings/fields';
import { columnChanges, resolveMask } from '../../src/resources/field-spec';
import { staffPermissionFields } from '../../src/resources/staff-permissions/fields';
import { staffPermission } from '../../src/resources/staff-permissions/staff-permission';

const paths = (specs: ReadonlyArray<{ path: string }>) => specs.map((s) => s.path);
function violationsOf(fn: (v: Violations) => void): string[] {
  const v = new Violations();
  fn(v);
  try {
    v.throwIfAny();
    return [];
  } catch (err) {
    return (err as SettingsError).fieldViolations.map((x) => x.field);
  }
}

describe('update masks (AIP-134)', () => {
  const msg = AccountSettings.fromPartial({ name: 'accounts/a/settings', displayName: 'X', billing: { statementDueDays: 10 }, appointmentDefaults: { allowDoubleBooking: false } });

  it('no mask means the populated fields only (defaults cannot be told from unset)', () => {
    expect(paths(resolveMask(accountSettingsFields, undefined, msg, new Violations()))).toEqual(['display_name', 'billing.statement_due_days']);
    expect(paths(resolveMask(accountSettingsFields, [], msg, new Violations()))).toEqual(['display_name', 'billing.statement_due_days']);
  });

  it('"*" means every writable field; a message path means all of its leaves', () => {
    expect(resolveMask(accountSettingsFields, ['*'], msg, new Violations())).toHaveLength(accountSettingsFields.length);
    expect(paths(resolveMask(accountSettingsFields, ['billing'], msg, new Violations()))).toEqual([
      'billing.currency_code',
      'billing.group_npi',
      'billing.patient_statements_enabled',
      'billing.statement_due_days',
    ]);
  });

  it('ignores identifier and output-only paths, rejects unknown ones with their index', () => {
    expect(violationsOf((v) => resolveMask(accountSettingsFields, ['name', 'etag', 'update_time', 'display_name'], msg, v))).toEqual([]);
    expect(violationsOf((v) => resolveMask(accountSettingsFields, ['display_name', 'billing.nope', 'billin'], msg, v))).toEqual(['update_mask.paths[1]', 'update_mask.paths[2]']);
  });

  it('ignores an output-only path only on a resource that has it: create_time is a grant\'s, unknown on settings', () => {
    expect(violationsOf((v) => resolveMask(accountSettings.fields, ['create_time'], msg, v, accountSettings.outputOnly))).toEqual(['update_mask.paths[0]']);
    const grant = StaffPermission.fromPartial({ name: 'accounts/a/staffPermissions/s', role: Role.ROLE_ADMIN });
    expect(violationsOf((v) => resolveMask(staffPermission.fields, ['create_time', 'role'], grant, v, staffPermission.outputOnly))).toEqual([]);
  });

  it('checks only the chosen fields and maps them to columns', () => {
    const chosen = resolveMask(accountSettingsFields, ['locale', 'billing.statement_due_days'], AccountSettings.fromPartial({ locale: 'pt-br', billing: { statementDueDays: 10 } }), new Violations());
    const v = new Violations();
    expect(columnChanges(chosen, AccountSettings.fromPartial({ locale: 'pt-br', billing: { statementDueDays: 10 } }), 'account_settings', v)).toEqual({ locale: 'pt-BR', billing_statement_due_days: 10 });
    expect(v.empty).toBe(true);
  });
});

describe('value checks', () => {
  it('time zones come from the IANA database (plus UTC)', () => {
    expect(checks.timeZone()('UTC')).toBeUndefined();
    expect(checks.timeZone()('America/New_York')).toBeUndefined();
    expect(checks.timeZone()('Mars/Olympus_Mons')).toBeDefined();
    expect(checks.timeZone()('')).toBeDefined();
  });

  // Intl.supportedValuesOf('timeZone') lists CLDR's spelling of each zone only (Asia/Calcutta).
  it('current IANA names and links are time zones, stored as sent; offsets, made-up names and other cases of a name are not', () => {
    const current = ['Asia/Kolkata', 'Europe/Kyiv', 'Asia/Ho_Chi_Minh', 'Asia/Kathmandu', 'America/Nuuk', 'Asia/Yangon', 'America/Argentina/Buenos_Aires', 'Etc/UTC'];
    for (const zone of [...current, 'Asia/Calcutta', 'UTC', 'Etc/GMT+5', 'US/Pacific', 'Zulu']) expect({ zone, problem: checks.timeZone()(zone) }).toEqual({ zone, problem: undefined });
    for (const zone of ['+05:30', '-08:00', '+0530', '+05', 'GMT+5', 'Z', 'Etc/GMT+15', 'Asia/Kolkata ', 'Asia/Nowhere', 'x'.repeat(100_000), 'Asia/Kolkata\u0000', 'utc', 'asia/kolkata', 'Asia/kolkata', 'ASIA/CALCUTTA', 'Asia/KOLKATA', 'Asia/KolKata', 'Europe/KYIV', 'Etc/Utc', 'US/PACIFIC', 'ZULU', 'SystemV/EST5', 'SystemV/PST8PDT']) {
      expect({ zone, problem: checks.timeZone()(zone) }).toEqual({ zone, problem: 'must be an IANA time zone, e.g. America/New_York' });
    }
    // Every zone ICU lists is still one.
    for (const zone of Intl.supportedValuesOf('timeZone')) expect({ zone, problem: checks.timeZone()(zone) }).toEqual({ zone, problem: undefined });
    const msg = AccountSettings.fromPartial({ timeZone: 'Asia/Kolkata' });
    const v = new Violations();
    expect(columnChanges(resolveMask(accountSettingsFields, ['time_zone'], msg, v), msg, 'account_settings', v)).toEqual({ time_zone: 'Asia/Kolkata' });
    expect(v.empty).toBe(true);
  });

  it('locales are canonicalised BCP-47 tags', () => {
    expect(canonicalLocale('en-us')).toBe('en-US');
    expect(canonicalLocale('zh-hant-tw')).toBe('zh-Hant-TW');
    expect(canonicalLocale('not a locale')).toBeUndefined();
    expect(canonicalLocale('')).toBeUndefined();
  });

  it('ranges match the database CHECKs at both ends', () => {
    const duration = checks.intRange(5, 480);
    expect([4, 5, 480, 481].map((n) => duration(n) === undefined)).toEqual([false, true, true, false]);
    const doctorDuration = checks.intRange(5, 480, { also: 0 });
    expect([0, 1, 5].map((n) => doctorDuration(n) === undefined)).toEqual([true, false, true]);
    expect(checks.phoneOrEmpty()('')).toBeUndefined();
    expect(checks.phoneOrEmpty()('+14155550100')).toBeUndefined();
    expect(checks.phoneOrEmpty()('+1234567890123456')).toBeDefined(); // 16 digits
    expect(checks.text(3)('a\u0000')).toBeDefined();
    expect(checks.text(3)('äöü')).toBeUndefined(); // characters, not bytes
    expect(checks.text(2)('😀😀')).toBeUndefined(); // code points, as char_length counts
  });

  it('working hours: touching intervals are fine, overlaps and bad times are reported per entry', () => {
    const mon = DayOfWeek.DAY_OF_WEEK_MONDAY;
    expect(checkWorkingHours([{ dayOfWeek: mon, startTime: '09:00', endTime: '12:00' }, { dayOfWeek: mon, startTime: '12:00', endTime: '24:00' }])).toBeUndefined();
    expect(checkWorkingHours([{ dayOfWeek: mon, startTime: '09:00', endTime: '12:00' }, { dayOfWeek: DayOfWeek.DAY_OF_WEEK_TUESDAY, startTime: '09:00', endTime: '12:00' }])).toBeUndefined();
    expect(checkWorkingHours([{ dayOfWeek: mon, startTime: '24:00', endTime: '24:00' }])).toEqual([{ subpath: '[0].start_time', description: expect.any(String) }]);
    expect(checkWorkingHours([{ dayOfWeek: DayOfWeek.UNRECOGNIZED, startTime: '09:00', endTime: '10:00' }])).toEqual([{ subpath: '[0].day_of_week', description: expect.any(String) }]);
  });

  it('permissions are stored sorted and de-duplicated', () => {
    const perms = staffPermissionFields.find((f) => f.path === 'permissions')!;
    const value = perms.get(StaffPermission.fromPartial({ permissions: ['b.write', 'a.read', 'b.write'] }));
    expect(perms.check(value)).toBeUndefined();
    expect(perms.toColumn!(value)).toEqual(['a.read', 'b.write']);
  });
});

describe('page tokens', () => {
  it('are bound to their account and carry the last staff id', () => {
    const token = encodePageToken('acct1', 's-42');
    expect(decodePageToken(token, 'acct1')).toBe('s-42');
    expect(decodePageToken(token, 'acct2')).toBeUndefined();
    expect(decodePageToken('!!', 'acct1')).toBeUndefined();
    expect(decodePageToken(Buffer.from('{"v":1,"a":"acct1","k":"x}:y"}').toString('base64url'), 'acct1')).toBeUndefined();
  });
});
