import { DoctorSettings } from '@settings/api';
import { doctorSettingsTable } from '@settings/shared';
import { settingsResource } from '../resource';
import { doctorSettingsFields } from './fields';

/** `accounts/{account}/doctors/{doctor}/settings`: one doctor's settings (migration 0003). */
export const doctorSettings = settingsResource({
  table: doctorSettingsTable,
  proto: { message: DoctorSettings, singular: 'DoctorSettings', plural: 'DoctorSettings', field: 'doctorSettings', pluralField: 'doctorSettings' },
  fields: doctorSettingsFields,
});
