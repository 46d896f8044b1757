import { AccountSettings } from '@settings/api';
import { accountSettingsTable } from '@settings/shared';
import { settingsResource } from '../resource';
import { accountSettingsFields } from './fields';

/** `accounts/{account}/settings`: the practice-wide settings of an account (migration 0002). */
export const accountSettings = settingsResource({
  table: accountSettingsTable,
  proto: { message: AccountSettings, singular: 'AccountSettings', plural: 'AccountSettings', field: 'accountSettings', pluralField: 'accountSettings' },
  fields: accountSettingsFields,
});
