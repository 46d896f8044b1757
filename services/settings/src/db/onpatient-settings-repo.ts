import { OnPatientSettings } from '@settings/api';
import { encodeToken } from '../consistency/token';
import type { Loaded } from '../cache/read-through';
import { names } from '../grpc/common/names';
import type { Db } from './db';
import { writeSingleton, type Row } from './singleton-write';

const TABLE = 'onpatient_settings';

export interface OnPatientSettingsUpdate {
  accountId: string;
  changes: Record<string, unknown>;
  etag: bigint | undefined;
  allowMissing: boolean;
}

export class OnPatientSettingsRepo {
  constructor(private readonly db: Db) {}

  async load(accountIds: readonly string[], deadline: number): Promise<Map<string, Loaded<OnPatientSettings>>> {
    const rows = await this.db.read<Row[]>('onpatient_settings.read', deadline, (k) => k(TABLE).whereIn('account_id', [...new Set(accountIds)]));
    return new Map(rows.map((r) => [r.account_id as string, toLoaded(r)]));
  }

  async update(u: OnPatientSettingsUpdate, deadline: number): Promise<OnPatientSettings> {
    const row = await this.db.write('onpatient_settings.write', deadline, (trx) =>
      writeSingleton(trx, { table: TABLE, key: { account_id: u.accountId }, changes: u.changes, etag: u.etag, allowMissing: u.allowMissing, name: names.onPatientSettings(u.accountId) }),
    );
    return toLoaded(row).value;
  }
}

function toLoaded(r: Row): Loaded<OnPatientSettings> {
  const version = BigInt(r.version as string);
  const value = OnPatientSettings.fromPartial({
    name: names.onPatientSettings(r.account_id as string),
    portalEnabled: r.portal_enabled as boolean,
    onlineSchedulingEnabled: r.online_scheduling_enabled as boolean,
    messagingEnabled: r.messaging_enabled as boolean,
    billPayEnabled: r.bill_pay_enabled as boolean,
    intakeFormsEnabled: r.intake_forms_enabled as boolean,
    labResultsEnabled: r.lab_results_enabled as boolean,
    labResultsReleaseDelayHours: r.lab_results_release_delay_hours as number,
    welcomeMessage: r.welcome_message as string,
    supportPhoneNumber: r.support_phone_number as string,
    updateTime: r.update_time as Date,
    etag: version.toString(),
    consistencyToken: encodeToken(version),
  });
  return { version, value };
}
