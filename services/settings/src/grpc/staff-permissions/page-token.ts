import type { StaffPermission } from '@settings/api';
import { ID_PATTERN } from '@settings/shared';
import { staffPermission } from '../../resources/staff-permissions/staff-permission';

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

/** The `{staff}` of a grant's name; names in a list are the service's own, so they always parse. */
export const staffIdOf = (p: StaffPermission): string => staffPermission.name.parse(p.name)!.staff_id;
