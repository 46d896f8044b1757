import { StaffPermission } from '@settings/api';
import { staffPermissionsTable } from '@settings/shared';
import { settingsResource } from '../resource';
import { type ResourceKey } from '../resource-name';
import { staffPermissionFields } from './fields';

/**
 * `accounts/{account}/staffPermissions/{staff}`: one staff member's grant (migration 0005). A
 * collection, not a singleton: grants are created, listed and deleted, each change audited.
 */
export const staffPermission = settingsResource({
  table: staffPermissionsTable,
  proto: { message: StaffPermission, singular: 'StaffPermission', plural: 'StaffPermissions', field: 'staffPermission', pluralField: 'staffPermissions' },
  fields: staffPermissionFields,
  outputOnly: ['create_time'],
});

export type StaffKey = ResourceKey<(typeof staffPermissionsTable.keyColumns)[number]>;
