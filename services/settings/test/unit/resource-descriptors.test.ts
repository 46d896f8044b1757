import { AccountSettings, DoctorSettings, OnPatientSettings, StaffPermission } from '@settings/api';
import { ConsistencyTokens, decodeToken } from '../../src/consistency/token';
import { accountName } from '../../src/resources/account';
import { accountSettings } from '../../src/resources/account-settings/account-settings';
import { doctorSettings } from '../../src/resources/doctor-settings/doctor-settings';
import { onPatientSettings } from '../../src/resources/onpatient-settings/onpatient-settings';
import type { Row, SettingsResource, VersionedMessage } from '../../src/resources/resource';
import { resourceName } from '../../src/resources/resource-name';
import { loadedFromRow } from '../../src/resources/row-mapping';
import { staffPermission } from '../../src/resources/staff-permissions/staff-permission';

const tokens = new ConsistencyTokens('resource-descriptors-test-key-0123456789');
const updateTime = new Date('2024-05-01T10:00:00Z');
const createTime = new Date('2024-04-01T09:00:00Z');

/** The descriptor's behaviour as plain functions, so the cases of different resources fit one list. */
function probe<C extends string, T extends VersionedMessage>(resource: SettingsResource<C, T>) {
  return {
    load: (row: Row) => loadedFromRow(resource, row, tokens),
    /** What each field spec would write back for the message read from `row`, by column. */
    writtenBack(row: Row): Array<[string, unknown]> {
      const { value } = loadedFromRow(resource, row, tokens);
      return resource.fields.map((f) => [f.column, f.toColumn ? f.toColumn(f.get(value)) : f.get(value)]);
    },
    roundTrip(name: string): string | undefined {
      const key = resource.name.parse(name);
      return key && resource.name.format(key);
    },
    readerKey: (name: string) => resource.table.key(resource.name.parse(name)!),
    invalidatorKeys: (row: Row) => resource.table.keysForRow(row),
  };
}

/** A row of each table with a non-default value in every column, as node-postgres returns it. */
const cases = [
  {
    resource: probe(accountSettings),
    fields: Object.keys(AccountSettings.fromPartial({})),
    name: 'accounts/acme/settings',
    row: {
      account_id: 'acme', display_name: 'Acme Clinic', time_zone: 'Europe/Berlin', locale: 'de-DE', contact_phone_number: '+4930123456',
      contact_email: 'desk@acme.test', appointment_default_duration_minutes: 30, appointment_slot_granularity_minutes: 15,
      appointment_allow_double_booking: true, notification_email_reminders_enabled: true, notification_sms_reminders_enabled: true,
      notification_reminder_lead_hours: 24, billing_currency_code: 'EUR', billing_group_npi: '1234567890', billing_patient_statements_enabled: true,
      billing_statement_due_days: 30, version: '41', update_time: updateTime,
    },
  },
  {
    resource: probe(doctorSettings),
    fields: Object.keys(DoctorSettings.fromPartial({})),
    name: 'accounts/acme/doctors/dr-1/settings',
    row: {
      account_id: 'acme', doctor_id: 'dr-1', display_name: 'Dr. One', specialty: 'Dermatology', default_appointment_duration_minutes: 20,
      online_booking_enabled: true, accepting_new_patients: true,
      working_hours: [{ dayOfWeek: 'DAY_OF_WEEK_MONDAY', startTime: '09:00', endTime: '12:00' }],
      notification_new_booking_alerts_enabled: true, notification_cancellation_alerts_enabled: true, notification_daily_agenda_email_enabled: true,
      version: '42', update_time: updateTime,
    },
  },
  {
    resource: probe(onPatientSettings),
    fields: Object.keys(OnPatientSettings.fromPartial({})),
    name: 'accounts/acme/onpatientSettings',
    row: {
      account_id: 'acme', portal_enabled: true, online_scheduling_enabled: true, messaging_enabled: true, bill_pay_enabled: true,
      intake_forms_enabled: true, lab_results_enabled: true, lab_results_release_delay_hours: 48, welcome_message: 'Welcome',
      support_phone_number: '+14155550100', version: '43', update_time: updateTime,
    },
  },
  {
    resource: probe(staffPermission),
    fields: Object.keys(StaffPermission.fromPartial({})),
    name: 'accounts/acme/staffPermissions/s-1',
    row: {
      account_id: 'acme', staff_id: 's-1', role: 'ROLE_NURSE', permissions: ['appointments.read'], disabled: true,
      create_time: createTime, version: '44', update_time: updateTime,
    },
  },
];

describe.each(cases)('the descriptor of $name', ({ resource, fields, name, row }) => {
  it('maps every field of the message from a column (no field left at its default)', () => {
    const { version, value } = resource.load(row);
    const unset = fields.filter((f) => {
      const v = (value as unknown as Record<string, unknown>)[f];
      return v === undefined || v === '' || v === 0 || v === false || (Array.isArray(v) && v.length === 0);
    });
    expect(unset).toEqual([]);
    expect(value.name).toBe(name);
    expect(value.etag).toBe(row.version);
    expect(decodeToken(value.consistencyToken)).toEqual({ version, listVersion: version });
    expect(tokens.verify(value.consistencyToken)).toEqual({ version, listVersion: version });
    expect(value.updateTime).toEqual(updateTime);
  });

  it('reads every writable field back from the column it is written to', () => {
    const columns: Record<string, unknown> = row;
    for (const [column, stored] of resource.writtenBack(row)) {
      // jsonb columns are written as JSON text and come back parsed.
      expect(typeof stored === 'string' && Array.isArray(columns[column]) ? JSON.parse(stored) : stored).toEqual(columns[column]);
    }
  });

  it('parses and formats its name, and keys the cache as the invalidator keys the row', () => {
    expect(resource.roundTrip(name)).toBe(name);
    expect(resource.readerKey(name)).toEqual(resource.invalidatorKeys(row)[0]);
    expect(resource.roundTrip(`${name}/x`)).toBeUndefined();
    expect(resource.roundTrip(name.replace('acme', 'ACME'))).toBeUndefined();
  });
});

describe('resource names', () => {
  it('refuses ids outside the shared id pattern', () => {
    for (const bad of ['', 'a:b', 'a}b', 'a b', '-lead', 'x'.repeat(64)]) expect(accountName.parse(`accounts/${bad}`)).toBeUndefined();
    expect(accountName.parse('accounts/acme')).toEqual({ account_id: 'acme' });
  });

  it('fails at start-up when a pattern does not name its table key columns', () => {
    expect(() => resourceName('accounts/{account}/doctors/{doc}/settings', ['account_id', 'doctor_id'])).toThrow(/does not name the key columns/);
  });
});
