import type { SettingsServiceServer } from '@settings/api';
import { accountSettings } from '../resources/account-settings/account-settings';
import { doctorSettings } from '../resources/doctor-settings/doctor-settings';
import { onPatientSettings } from '../resources/onpatient-settings/onpatient-settings';
import type { StaffListCacheLimits } from '../resources/staff-permissions/staff-permission-list';
import type { MethodDeps } from './resource-methods/rpc-types';
import { singletonSettingsMethods } from './resource-methods/singleton-methods';
import { staffPermissionMethods } from './staff-permissions/methods';

/**
 * `settings.v1.SettingsService`: one line per resource. A settings singleton needs nothing but
 * its descriptor (src/resources/<resource>/); the type says when a method of the proto is missing.
 */
export function settingsService(
  deps: MethodDeps,
  opts: { staffListCache: StaffListCacheLimits; watchSettings: SettingsServiceServer['watchSettings'] },
): SettingsServiceServer {
  return {
    ...singletonSettingsMethods(accountSettings, deps),
    ...singletonSettingsMethods(doctorSettings, deps),
    ...singletonSettingsMethods(onPatientSettings, deps),
    ...staffPermissionMethods(deps, opts.staffListCache),
    watchSettings: opts.watchSettings,
  };
}
