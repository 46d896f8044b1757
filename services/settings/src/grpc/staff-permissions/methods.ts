import type { SettingsServiceServer } from '@settings/api';
import { StaffPermissionsRepo } from '../../db/staff-permissions-repo';
import { resourceReadSource } from '../../resources/read-source';
import { staffPermission } from '../../resources/staff-permissions/staff-permission';
import { readMethods } from '../resource-methods/read-methods';
import type { MethodDeps } from '../resource-methods/rpc-types';
import { listStaffPermissions } from './list';
import type { StaffListCacheLimits } from '../../resources/staff-permissions/staff-permission-list';
import { staffPermissionWriteMethods } from './writes';

type Methods = Pick<
  SettingsServiceServer,
  'getStaffPermission' | 'batchGetStaffPermissions' | 'listStaffPermissions' | 'createStaffPermission' | 'updateStaffPermission' | 'deleteStaffPermission'
>;

/** Grants: Get/BatchGet like every resource, plus List (a cached whole list) and audited Create/Update/Delete. */
export function staffPermissionMethods(deps: MethodDeps, listCache: StaffListCacheLimits): Methods {
  const repo = new StaffPermissionsRepo(deps.db, deps.tokens);
  return {
    ...readMethods(staffPermission, resourceReadSource(staffPermission, repo.load), deps),
    listStaffPermissions: deps.unary('ListStaffPermissions', 'read', listStaffPermissions(deps.readThrough, repo, deps.tokens, listCache)),
    ...staffPermissionWriteMethods(deps.unary, repo),
  };
}
