import type { OnPatientSettings } from '@settings/api';
import { checks } from '../checks';
import type { FieldSpec } from '../field-spec';

/** Writable fields of OnPatientSettings and their columns (migration 0004). */
export const onPatientSettingsFields: readonly FieldSpec<OnPatientSettings>[] = [
  { path: 'portal_enabled', column: 'portal_enabled', get: (m) => m.portalEnabled, check: checks.bool() },
  { path: 'online_scheduling_enabled', column: 'online_scheduling_enabled', get: (m) => m.onlineSchedulingEnabled, check: checks.bool() },
  { path: 'messaging_enabled', column: 'messaging_enabled', get: (m) => m.messagingEnabled, check: checks.bool() },
  { path: 'bill_pay_enabled', column: 'bill_pay_enabled', get: (m) => m.billPayEnabled, check: checks.bool() },
  { path: 'intake_forms_enabled', column: 'intake_forms_enabled', get: (m) => m.intakeFormsEnabled, check: checks.bool() },
  { path: 'lab_results_enabled', column: 'lab_results_enabled', get: (m) => m.labResultsEnabled, check: checks.bool() },
  { path: 'lab_results_release_delay_hours', column: 'lab_results_release_delay_hours', get: (m) => m.labResultsReleaseDelayHours, check: checks.intRange(0, 720) },
  { path: 'welcome_message', column: 'welcome_message', get: (m) => m.welcomeMessage, check: checks.text(2000) },
  { path: 'support_phone_number', column: 'support_phone_number', get: (m) => m.supportPhoneNumber, check: checks.phoneOrEmpty() },
];
