import {
  StaffPermission,
  type CreateStaffPermissionRequest,
  type DeleteStaffPermissionRequest,
  type SettingsServiceServer,
  type UpdateStaffPermissionRequest,
} from '@settings/api';
import { ID_PATTERN } from '@settings/shared';
import type { StaffPermissionsRepo } from '../../db/staff-permissions-repo';
import { Violations } from '../../errors';
import { accountName } from '../../resources/account';
import { columnChanges } from '../../resources/field-spec';
import { parseName } from '../../resources/resource-name';
import { staffPermission } from '../../resources/staff-permissions/staff-permission';
import { protoFieldPath } from '../proto-field-path';
import { parseEtag, parseUpdate } from '../resource-methods/update-request';
import type { Unary } from '../unary';

type Methods = Pick<SettingsServiceServer, 'createStaffPermission' | 'updateStaffPermission' | 'deleteStaffPermission'>;

const FIELD = protoFieldPath(staffPermission.proto.field);

/** Grant changes; each writes its audit row (actor = token subject) in the same transaction. */
export function staffPermissionWriteMethods(unary: Unary, repo: StaffPermissionsRepo): Methods {
  return {
    createStaffPermission: unary('CreateStaffPermission', 'permissions-write', async (req: CreateStaffPermissionRequest, ctx) => {
      const violations = new Violations();
      const parent = parseName(accountName, req.parent, 'parent', violations);
      violations.throwIfAny();
      ctx.authorize(parent!.account_id);
      if (!ID_PATTERN.test(req.staffPermissionId)) violations.add('staff_permission_id', `required; must match ${ID_PATTERN.source}`);
      if (!req.staffPermission) violations.add(FIELD, 'required');
      // AIP-133: every writable field is set on create; unset ones are checked as their defaults.
      const fields = columnChanges(staffPermission.fields, req.staffPermission ?? StaffPermission.fromPartial({}), FIELD, violations);
      violations.throwIfAny();
      const key = { account_id: parent!.account_id, staff_id: req.staffPermissionId };
      return (await repo.create(key, fields, ctx.principal.subject, ctx.deadline)).permission;
    }),

    updateStaffPermission: unary('UpdateStaffPermission', 'permissions-write', async (req: UpdateStaffPermissionRequest, ctx) => {
      const u = parseUpdate(staffPermission, { message: req.staffPermission, mask: req.updateMask }, ctx);
      return (await repo.update(u.key, u.changes, u.etag, ctx.principal.subject, ctx.deadline)).permission;
    }),

    deleteStaffPermission: unary('DeleteStaffPermission', 'permissions-write', async (req: DeleteStaffPermissionRequest, ctx) => {
      const violations = new Violations();
      const key = parseName(staffPermission.name, req.name, 'name', violations);
      violations.throwIfAny();
      ctx.authorize(key!.account_id);
      const etag = parseEtag(req.etag, 'etag', violations);
      violations.throwIfAny();
      return (await repo.delete(key!, etag, ctx.principal.subject, ctx.deadline)).permission;
    }),
  };
}
