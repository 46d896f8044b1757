/**
 * The OAuth-style scopes of the settings API and which one each kind of method needs. Kept
 * apart from auth.ts so the configuration can validate scope names without importing the
 * authenticator (which imports the configuration).
 */
export const READ_SCOPE = 'settings.read';
export const WRITE_SCOPE = 'settings.write';
/** Staff permissions decide who may do what in an account: changing them is its own grant. */
export const PERMISSIONS_WRITE_SCOPE = 'settings.permissions.write';

export const API_SCOPES = [READ_SCOPE, WRITE_SCOPE, PERMISSIONS_WRITE_SCOPE] as const;

/** What a method does: read settings, write settings, or change staff permissions. */
export type Access = 'read' | 'write' | 'permissions-write';

/** The scopes any one of which allows the access (a write grant implies reading). */
export const SCOPES_ALLOWING: Readonly<Record<Access, readonly string[]>> = {
  read: API_SCOPES,
  write: [WRITE_SCOPE],
  'permissions-write': [PERMISSIONS_WRITE_SCOPE],
};

/** Default scopes of a token without a `scope` claim: read-only (JWT_UNSCOPED_TOKEN_SCOPES). */
export const DEFAULT_UNSCOPED_TOKEN_SCOPES = READ_SCOPE;

/** Splits a space-separated scope list (the OAuth `scope` claim format). */
export function parseScopeList(value: string): Set<string> {
  return new Set(value.split(' ').filter(Boolean));
}
