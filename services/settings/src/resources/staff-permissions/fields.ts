import { Role, roleToJSON, type StaffPermission } from '@settings/api';
import { checks } from '../checks';
import type { FieldProblem, FieldSpec } from '../field-spec';

export const MAX_PERMISSIONS = 200;
const PERMISSION = /^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$/;
const MAX_PERMISSION_CHARS = 100;

function checkRole(value: unknown): string | undefined {
  return typeof value === 'number' && value >= Role.ROLE_ADMIN && value <= Role.ROLE_BILLING ? undefined : 'must be a role other than ROLE_UNSPECIFIED';
}

export function checkPermissions(value: unknown): string | FieldProblem[] | undefined {
  const list = value as string[];
  // The length first: a list of 100,000 bad entries is one problem, not 100,000.
  if (list.length > MAX_PERMISSIONS) return `at most ${MAX_PERMISSIONS} permissions`;
  const problems: FieldProblem[] = [];
  list.forEach((p, i) => {
    if (p.length > MAX_PERMISSION_CHARS || !PERMISSION.test(p)) {
      problems.push({ subpath: `[${i}]`, description: 'must be <area>.<action> in lower snake case, e.g. appointments.read' });
    }
  });
  return problems.length > 0 ? problems : undefined;
}

/** Stored sorted and without duplicates, so equal grants have equal rows. */
const normalizePermissions = (value: unknown): string[] => [...new Set(value as string[])].sort();

/** Writable fields of StaffPermission and their columns (migration 0005). */
export const staffPermissionFields: readonly FieldSpec<StaffPermission>[] = [
  { path: 'role', column: 'role', get: (m) => m.role, check: checkRole, toColumn: (v) => roleToJSON(v as Role) },
  { path: 'permissions', column: 'permissions', get: (m) => m.permissions, check: checkPermissions, toColumn: normalizePermissions },
  { path: 'disabled', column: 'disabled', get: (m) => m.disabled, check: checks.bool() },
];
