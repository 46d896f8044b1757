import { AccountSettings } from '@settings/api';
import { encodeToken } from '../consistency/token';
import type { Loaded } from '../cache/read-through';
import { names } from '../grpc/common/names';
import type { Db } from './db';
import { writeSingleton, type Row } from './singleton-write';

const TABLE = 'account_settings';

export interface AccountSettingsUpdate {
  accountId: string;
  changes: Record<string, unknown>;
  etag: bigint | undefined;
  allowMissing: boolean;
}

export class AccountSettingsRepo {
  constructor(private readonly db: Db) {}

  async load(accountIds: readonly string[], deadline: number): Promise<Map<string, Loaded<AccountSettings>>> {
    const rows = await this.db.read<Row[]>('account_settings.read', deadline, (k) => k(TABLE).whereIn('account_id', [...new Set(accountIds)]));
    return new Map(rows.map((r) => [r.account_id as string, toLoaded(r)]));
  }

  async update(u: AccountSettingsUpdate, deadline: number): Promise<AccountSettings> {
    const row = await this.db.write('account_settings.write', deadline, (trx) =>
      writeSingleton(trx, { table: TABLE, key: { account_id: u.accountId }, changes: u.changes, etag: u.etag, allowMissing: u.allowMissing, name: names.accountSettings(u.accountId) }),
    );
    return toLoaded(row).value;
  }
}

function toLoaded(r: Row): Loaded<AccountSettings> {
  const version = BigInt(r.version as string);
  const value = AccountSettings.fromPartial({
    name: names.accountSettings(r.account_id as string),
    displayName: r.display_name as string,
    timeZone: r.time_zone as string,
    locale: r.locale as string,
    contactPhoneNumber: r.contact_phone_number as string,
    contactEmail: r.contact_email as string,
    appointmentDefaults: {
      defaultDurationMinutes: r.appointment_default_duration_minutes as number,
      slotGranularityMinutes: r.appointment_slot_granularity_minutes as number,
      allowDoubleBooking: r.appointment_allow_double_booking as boolean,
    },
    notificationPreferences: {
      emailRemindersEnabled: r.notification_email_reminders_enabled as boolean,
      smsRemindersEnabled: r.notification_sms_reminders_enabled as boolean,
      reminderLeadHours: r.notification_reminder_lead_hours as number,
    },
    billing: {
      currencyCode: r.billing_currency_code as string,
      groupNpi: r.billing_group_npi as string,
      patientStatementsEnabled: r.billing_patient_statements_enabled as boolean,
      statementDueDays: r.billing_statement_due_days as number,
    },
    updateTime: r.update_time as Date,
    etag: version.toString(),
    consistencyToken: encodeToken(version),
  });
  return { version, value };
}
