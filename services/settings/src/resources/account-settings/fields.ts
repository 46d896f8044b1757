import { AppointmentDefaults, BillingSettings, NotificationPreferences, type AccountSettings } from '@settings/api';
import { canonicalLocale, checks } from '../checks';
import type { FieldSpec } from '../field-spec';

type M = AccountSettings;
const appointment = (m: M): AppointmentDefaults => m.appointmentDefaults ?? AppointmentDefaults.fromPartial({});
const notification = (m: M): NotificationPreferences => m.notificationPreferences ?? NotificationPreferences.fromPartial({});
const billing = (m: M): BillingSettings => m.billing ?? BillingSettings.fromPartial({});

/** Writable fields of AccountSettings and their columns (migration 0002 flattens nested messages). */
export const accountSettingsFields: readonly FieldSpec<M>[] = [
  { path: 'display_name', column: 'display_name', get: (m) => m.displayName, check: checks.text(200) },
  { path: 'time_zone', column: 'time_zone', get: (m) => m.timeZone, check: checks.timeZone() },
  { path: 'locale', column: 'locale', get: (m) => m.locale, check: checks.locale(), toColumn: (v) => canonicalLocale(v as string) },
  { path: 'contact_phone_number', column: 'contact_phone_number', get: (m) => m.contactPhoneNumber, check: checks.phoneOrEmpty() },
  { path: 'contact_email', column: 'contact_email', get: (m) => m.contactEmail, check: checks.emailOrEmpty() },
  {
    path: 'appointment_defaults.default_duration_minutes',
    column: 'appointment_default_duration_minutes',
    get: (m) => appointment(m).defaultDurationMinutes,
    check: checks.intRange(5, 480),
  },
  {
    path: 'appointment_defaults.slot_granularity_minutes',
    column: 'appointment_slot_granularity_minutes',
    get: (m) => appointment(m).slotGranularityMinutes,
    check: checks.intOneOf([5, 10, 15, 20, 30, 60]),
  },
  { path: 'appointment_defaults.allow_double_booking', column: 'appointment_allow_double_booking', get: (m) => appointment(m).allowDoubleBooking, check: checks.bool() },
  {
    path: 'notification_preferences.email_reminders_enabled',
    column: 'notification_email_reminders_enabled',
    get: (m) => notification(m).emailRemindersEnabled,
    check: checks.bool(),
  },
  {
    path: 'notification_preferences.sms_reminders_enabled',
    column: 'notification_sms_reminders_enabled',
    get: (m) => notification(m).smsRemindersEnabled,
    check: checks.bool(),
  },
  {
    path: 'notification_preferences.reminder_lead_hours',
    column: 'notification_reminder_lead_hours',
    get: (m) => notification(m).reminderLeadHours,
    check: checks.intRange(1, 168),
  },
  { path: 'billing.currency_code', column: 'billing_currency_code', get: (m) => billing(m).currencyCode, check: checks.currency() },
  { path: 'billing.group_npi', column: 'billing_group_npi', get: (m) => billing(m).groupNpi, check: checks.npiOrEmpty() },
  { path: 'billing.patient_statements_enabled', column: 'billing_patient_statements_enabled', get: (m) => billing(m).patientStatementsEnabled, check: checks.bool() },
  { path: 'billing.statement_due_days', column: 'billing_statement_due_days', get: (m) => billing(m).statementDueDays, check: checks.intRange(0, 120) },
];
