import { defineCachedTable } from './cached-table';

/**
 * The cached tables: for each, its key columns and the cache keys its rows map to. The settings
 * service builds its resources on these (services/settings/src/resources), the invalidator plans
 * its evictions from them; a new cached table is one entry here plus one in SETTINGS_TABLES.
 */
export const accountSettingsTable = defineCachedTable({
  table: 'account_settings',
  space: 'account-settings',
  keyColumns: ['account_id'],
  namePattern: 'accounts/{account}/settings',
  payloadFormat: 0,
});

export const doctorSettingsTable = defineCachedTable({
  table: 'doctor_settings',
  space: 'doctor-settings',
  keyColumns: ['account_id', 'doctor_id'],
  namePattern: 'accounts/{account}/doctors/{doctor}/settings',
  payloadFormat: 0,
});

/**
 * One summary row per account whose version is that of the account's whole grant list (migration
 * 0005); its name is the collection's (ListStaffPermissions' parent + collection id).
 */
export const staffPermissionListsTable = defineCachedTable({
  table: 'staff_permission_lists',
  space: 'staff-permission-list',
  keyColumns: ['account_id'],
  namePattern: 'accounts/{account}/staffPermissions',
  payloadFormat: 0,
});

/** A grant change also changes its account's list, cached whole under the list's key. */
export const staffPermissionsTable = defineCachedTable({
  table: 'staff_permissions',
  space: 'staff-permission',
  keyColumns: ['account_id', 'staff_id'],
  namePattern: 'accounts/{account}/staffPermissions/{staff}',
  payloadFormat: 0,
  alsoEvicts: [staffPermissionListsTable],
});

export const onPatientSettingsTable = defineCachedTable({
  table: 'onpatient_settings',
  space: 'onpatient-settings',
  keyColumns: ['account_id'],
  namePattern: 'accounts/{account}/onpatientSettings',
  payloadFormat: 0,
});

/** Every cached table (the change topics the invalidator consumes), in key-space order. */
export const SETTINGS_TABLES = [accountSettingsTable, doctorSettingsTable, staffPermissionsTable, staffPermissionListsTable, onPatientSettingsTable] as const;

export type SettingsTable = (typeof SETTINGS_TABLES)[number];
