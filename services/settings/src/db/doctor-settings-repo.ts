import { DoctorSettings, WorkingHours } from '@settings/api';
import { encodeToken } from '../consistency/token';
import type { Loaded } from '../cache/read-through';
import { names, type DoctorRef } from '../grpc/common/names';
import type { Db } from './db';
import { writeSingleton, type Row } from './singleton-write';

const TABLE = 'doctor_settings';

export interface DoctorSettingsUpdate {
  ref: DoctorRef;
  changes: Record<string, unknown>;
  etag: bigint | undefined;
  allowMissing: boolean;
}

export const doctorKey = (r: DoctorRef): string => `${r.accountId}/${r.doctorId}`;

export class DoctorSettingsRepo {
  constructor(private readonly db: Db) {}

  /** Result keyed by `account/doctor`. */
  async load(refs: readonly DoctorRef[], deadline: number): Promise<Map<string, Loaded<DoctorSettings>>> {
    const pairs = [...new Map(refs.map((r) => [doctorKey(r), [r.accountId, r.doctorId]])).values()];
    const rows = await this.db.read<Row[]>('doctor_settings.read', deadline, (k) => k(TABLE).whereIn(['account_id', 'doctor_id'], pairs));
    return new Map(rows.map((r) => [`${r.account_id as string}/${r.doctor_id as string}`, toLoaded(r)]));
  }

  async update(u: DoctorSettingsUpdate, deadline: number): Promise<DoctorSettings> {
    const { accountId, doctorId } = u.ref;
    const row = await this.db.write('doctor_settings.write', deadline, (trx) =>
      writeSingleton(trx, {
        table: TABLE,
        key: { account_id: accountId, doctor_id: doctorId },
        changes: u.changes,
        etag: u.etag,
        allowMissing: u.allowMissing,
        name: names.doctorSettings(accountId, doctorId),
      }),
    );
    return toLoaded(row).value;
  }
}

function toLoaded(r: Row): Loaded<DoctorSettings> {
  const version = BigInt(r.version as string);
  const value = DoctorSettings.fromPartial({
    name: names.doctorSettings(r.account_id as string, r.doctor_id as string),
    displayName: r.display_name as string,
    specialty: r.specialty as string,
    defaultAppointmentDurationMinutes: r.default_appointment_duration_minutes as number,
    onlineBookingEnabled: r.online_booking_enabled as boolean,
    acceptingNewPatients: r.accepting_new_patients as boolean,
    // Stored in proto3 JSON form (see migration 0003), so fromJSON reads it back.
    workingHours: ((r.working_hours as unknown[]) ?? []).map((w) => WorkingHours.fromJSON(w)),
    notificationPreferences: {
      newBookingAlertsEnabled: r.notification_new_booking_alerts_enabled as boolean,
      cancellationAlertsEnabled: r.notification_cancellation_alerts_enabled as boolean,
      dailyAgendaEmailEnabled: r.notification_daily_agenda_email_enabled as boolean,
    },
    updateTime: r.update_time as Date,
    etag: version.toString(),
    consistencyToken: encodeToken(version),
  });
  return { version, value };
}
