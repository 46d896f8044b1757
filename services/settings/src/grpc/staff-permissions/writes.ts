import {
  StaffPermission,
  type CreateStaffPermissionRequest,
  type DeleteStaffPermissionRequest,
  type SettingsServiceServer,
  type UpdateStaffPermissionRequest,
} from '@settings/api';
import { ID_PATTERN } from '@settings/shared';
import { Violations } from '../../errors';
import type { StaffFields, StaffPermissionsRepo } from '../../db/staff-permissions-repo';
import { columnChanges } from '../common/field-mask';
import { parseName, parsers } from '../common/names';
import { parseEtag, parseUpdate } from '../common/resource-methods';
import type { Unary } from '../unary';
import { staffPermissionFields } from './validate';

type Methods = Pick<SettingsServiceServer, 'createStaffPermission' | 'updateStaffPermission' | 'deleteStaffPermission'>;

/** Grant changes; each writes its audit row (actor = token subject) in the same transaction. */
export function staffPermissionWriteMethods(unary: Unary, repo: StaffPermissionsRepo): Methods {
  return {
    createStaffPermission: unary('CreateStaffPermission', 'write', async (req: CreateStaffPermissionRequest, ctx) => {
      const violations = new Violations();
      const parent = parseName(parsers.account, req.parent, 'parent', violations);
      violations.throwIfAny();
      ctx.authorize(parent!.accountId);
      if (!ID_PATTERN.test(req.staffPermissionId)) violations.add('staff_permission_id', 'required; must match ^[a-z0-9][a-z0-9_-]{0,62}$');
      if (!req.staffPermission) violations.add('staff_permission', 'required');
      const fields = columnChanges(staffPermissionFields, req.staffPermission ?? StaffPermission.fromPartial({}), 'staff_permission', violations);
      violations.throwIfAny();
      const ref = { accountId: parent!.accountId, staffId: req.staffPermissionId };
      return (await repo.create(ref, fields as Required<StaffFields>, ctx.principal.subject, ctx.deadline)).permission;
    }),

    updateStaffPermission: unary('UpdateStaffPermission', 'write', async (req: UpdateStaffPermissionRequest, ctx) => {
      const u = parseUpdate(parsers.staffPermission, staffPermissionFields, { field: 'staff_permission', message: req.staffPermission, mask: req.updateMask }, ctx);
      return (await repo.update(u.ref, u.changes as StaffFields, u.etag, ctx.principal.subject, ctx.deadline)).permission;
    }),

    deleteStaffPermission: unary('DeleteStaffPermission', 'write', async (req: DeleteStaffPermissionRequest, ctx) => {
      const violations = new Violations();
      const ref = parseName(parsers.staffPermission, req.name, 'name', violations);
      violations.throwIfAny();
      ctx.authorize(ref!.accountId);
      const etag = parseEtag(req.etag, 'etag', violations);
      violations.throwIfAny();
      return (await repo.delete(ref!, etag, ctx.principal.subject, ctx.deadline)).permission;
    }),
  };
}
