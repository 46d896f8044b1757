import { OnPatientSettings } from '@settings/api';
import { onPatientSettingsTable } from '@settings/shared';
import { settingsResource } from '../resource';
import { onPatientSettingsFields } from './fields';

/** `accounts/{account}/onpatientSettings`: the account's OnPatient patient-portal settings (migration 0004). */
export const onPatientSettings = settingsResource({
  table: onPatientSettingsTable,
  proto: { message: OnPatientSettings, singular: 'OnPatientSettings', plural: 'OnPatientSettings', field: 'onpatientSettings', pluralField: 'onpatientSettings' },
  fields: onPatientSettingsFields,
});
