import { Role, roleToJSON, type StaffPermission } from '@settings/api';
import { ID_PATTERN } from '@settings/shared';
import { checks } from '../common/checks';
import type { FieldProblem, FieldSpec } from '../common/field-mask';

export const MAX_PERMISSIONS = 200;
const PERMISSION = /^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$/;
const MAX_PERMISSION_CHARS = 100;

function checkRole(value: unknown): string | undefined {
  return typeof value === 'number' && value >= Role.ROLE_ADMIN && value <= Role.ROLE_BILLING ? undefined : 'must be a role other than ROLE_UNSPECIFIED';
}

export function checkPermissions(value: unknown): string | FieldProblem[] | undefined {
  const list = value as string[];
  const problems: FieldProblem[] = [];
  list.forEach((p, i) => {
    if (p.length > MAX_PERMISSION_CHARS || !PERMISSION.test(p)) {
      problems.push({ subpath: `[${i}]`, description: 'must be <area>.<action> in lower snake case, e.g. appointments.read' });
    }
  });
  if (problems.length > 0) return problems;
  if (new Set(list).size > MAX_PERMISSIONS) return `at most ${MAX_PERMISSIONS} distinct permissions`;
  return undefined;
}

/** Stored sorted and without duplicates, so equal grants have equal rows. */
const normalizePermissions = (value: unknown): string[] => [...new Set(value as string[])].sort();

/** Writable fields of StaffPermission and their columns (migration 0005). */
export const staffPermissionFields: readonly FieldSpec<StaffPermission>[] = [
  { path: 'role', column: 'role', get: (m) => m.role, check: checkRole, toColumn: (v) => roleToJSON(v as Role) },
  { path: 'permissions', column: 'permissions', get: (m) => m.permissions, check: checkPermissions, toColumn: normalizePermissions },
  { path: 'disabled', column: 'disabled', get: (m) => m.disabled, check: checks.bool() },
];

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 1000;

/**
 * Page tokens: base64url JSON naming the account and the last staff id returned. Keyset
 * pagination survives grants added or removed between pages, and reads the same from a cached
 * list and from PostgreSQL. The account binds a token to its `parent` (AIP-158).
 */
export function encodePageToken(accountId: string, lastStaffId: string): string {
  return Buffer.from(JSON.stringify({ v: 1, a: accountId, k: lastStaffId })).toString('base64url');
}

/** The last staff id of the previous page, or undefined when the token is not valid for `accountId`. */
export function decodePageToken(token: string, accountId: string): string | undefined {
  if (token.length > 256 || !/^[A-Za-z0-9_-]+$/.test(token)) return undefined;
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as unknown;
    if (typeof parsed !== 'object' || parsed === null) return undefined;
    const { v, a, k } = parsed as Record<string, unknown>;
    if (v !== 1 || a !== accountId || typeof k !== 'string' || !ID_PATTERN.test(k)) return undefined;
    return k;
  } catch {
    return undefined;
  }
}

/** The `{staff}` segment of `accounts/{account}/staffPermissions/{staff}`. */
export const staffIdOf = (p: StaffPermission): string => p.name.slice(p.name.lastIndexOf('/') + 1);
