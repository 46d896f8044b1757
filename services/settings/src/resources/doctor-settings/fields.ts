import { DayOfWeek, DoctorNotificationPreferences, dayOfWeekToJSON, type DoctorSettings, type WorkingHours } from '@settings/api';
import { checks } from '../checks';
import type { FieldProblem, FieldSpec } from '../field-spec';

type M = DoctorSettings;
const alerts = (m: M): DoctorNotificationPreferences => m.notificationPreferences ?? DoctorNotificationPreferences.fromPartial({});

export const MAX_WORKING_HOURS = 50;
const START = /^([01][0-9]|2[0-3]):[0-5][0-9]$/;
const END = /^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$/;

/** Entry-level problems with their index, so a caller can find the bad interval. */
export function checkWorkingHours(value: unknown): string | FieldProblem[] | undefined {
  const list = value as WorkingHours[];
  if (list.length > MAX_WORKING_HOURS) return `at most ${MAX_WORKING_HOURS} entries`;
  const problems: FieldProblem[] = [];
  list.forEach((w, i) => {
    if (!(w.dayOfWeek >= DayOfWeek.DAY_OF_WEEK_MONDAY && w.dayOfWeek <= DayOfWeek.DAY_OF_WEEK_SUNDAY)) {
      problems.push({ subpath: `[${i}].day_of_week`, description: 'must be a day of the week' });
    }
    if (!START.test(w.startTime)) problems.push({ subpath: `[${i}].start_time`, description: 'must be HH:MM (00:00..23:59)' });
    if (!END.test(w.endTime)) problems.push({ subpath: `[${i}].end_time`, description: 'must be HH:MM (00:01..24:00)' });
    else if (START.test(w.startTime) && w.endTime <= w.startTime) problems.push({ subpath: `[${i}].end_time`, description: 'must be after start_time' });
  });
  if (problems.length > 0) return problems;
  // "HH:MM" strings compare like the times they spell.
  const sorted = list.map((w, i) => ({ ...w, i })).sort((a, b) => a.dayOfWeek - b.dayOfWeek || a.startTime.localeCompare(b.startTime));
  for (let k = 1; k < sorted.length; k++) {
    const prev = sorted[k - 1]!;
    const cur = sorted[k]!;
    if (cur.dayOfWeek === prev.dayOfWeek && cur.startTime < prev.endTime) {
      problems.push({ subpath: `[${cur.i}]`, description: `overlaps working_hours[${prev.i}] on the same day` });
    }
  }
  return problems.length > 0 ? problems : undefined;
}

/** Proto3 JSON form, as migration 0003 specifies for the jsonb column. */
function workingHoursColumn(value: unknown): string {
  return JSON.stringify((value as WorkingHours[]).map((w) => ({ dayOfWeek: dayOfWeekToJSON(w.dayOfWeek), startTime: w.startTime, endTime: w.endTime })));
}

/** Writable fields of DoctorSettings and their columns (migration 0003). */
export const doctorSettingsFields: readonly FieldSpec<M>[] = [
  { path: 'display_name', column: 'display_name', get: (m) => m.displayName, check: checks.text(200) },
  { path: 'specialty', column: 'specialty', get: (m) => m.specialty, check: checks.text(100) },
  {
    path: 'default_appointment_duration_minutes',
    column: 'default_appointment_duration_minutes',
    get: (m) => m.defaultAppointmentDurationMinutes,
    check: checks.intRange(5, 480, { also: 0 }),
  },
  { path: 'online_booking_enabled', column: 'online_booking_enabled', get: (m) => m.onlineBookingEnabled, check: checks.bool() },
  { path: 'accepting_new_patients', column: 'accepting_new_patients', get: (m) => m.acceptingNewPatients, check: checks.bool() },
  { path: 'working_hours', column: 'working_hours', get: (m) => m.workingHours, check: checkWorkingHours, toColumn: workingHoursColumn },
  {
    path: 'notification_preferences.new_booking_alerts_enabled',
    column: 'notification_new_booking_alerts_enabled',
    get: (m) => alerts(m).newBookingAlertsEnabled,
    check: checks.bool(),
  },
  {
    path: 'notification_preferences.cancellation_alerts_enabled',
    column: 'notification_cancellation_alerts_enabled',
    get: (m) => alerts(m).cancellationAlertsEnabled,
    check: checks.bool(),
  },
  {
    path: 'notification_preferences.daily_agenda_email_enabled',
    column: 'notification_daily_agenda_email_enabled',
    get: (m) => alerts(m).dailyAgendaEmailEnabled,
    check: checks.bool(),
  },
];
