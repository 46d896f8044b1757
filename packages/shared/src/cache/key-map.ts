/**
 * The one key map: which exact Redis keys a settings row affects. The settings service uses
 * it to read and fill; the invalidator uses it to evict. Sharing it is what makes
 * invalidation exact — there is never a pattern delete, a SCAN, or a FLUSH.
 *
 * Key layout: `v1:{acct:<account>}:<space>[:<id>]`.
 *  - `v1` is the entry format version: bump it when the value layout changes, and old
 *    entries simply stop being read (they expire by TTL).
 *  - `{acct:<account>}` is a Redis Cluster hash tag: every key of one account lives in one
 *    slot, so an account's keys can be evicted in one pipeline per node.
 *  - Ids are validated against a strict pattern before they reach a key, so no input can
 *    forge another tenant's key (no `:`, `{`, `}`, spaces or wildcards).
 */

export const ID_PATTERN = /^[a-z0-9][a-z0-9_-]{0,62}$/;

export const CACHED_TABLES = [
  'account_settings',
  'doctor_settings',
  'staff_permissions',
  'staff_permission_lists',
  'onpatient_settings',
] as const;
export type CachedTable = (typeof CACHED_TABLES)[number];

export function isCachedTable(table: string): table is CachedTable {
  return (CACHED_TABLES as readonly string[]).includes(table);
}

/**
 * A key space is one kind of cache entry. Each has a generation counter in Redis; a TRUNCATE
 * of any table listed in `truncatedBy` bumps it, which makes every entry of that space
 * unreadable at once without enumerating keys.
 */
export const KEY_SPACES = {
  'account-settings': { truncatedBy: ['account_settings'] },
  'doctor-settings': { truncatedBy: ['doctor_settings'] },
  'staff-permission': { truncatedBy: ['staff_permissions'] },
  'staff-permission-list': { truncatedBy: ['staff_permissions', 'staff_permission_lists'] },
  'onpatient-settings': { truncatedBy: ['onpatient_settings'] },
} as const satisfies Record<string, { truncatedBy: readonly CachedTable[] }>;
export type KeySpace = keyof typeof KEY_SPACES;

export class InvalidIdError extends Error {
  readonly code = 'KEY_INVALID_ID';
  constructor(
    readonly field: string,
    readonly value: unknown,
  ) {
    super(`${field} ${JSON.stringify(value)} does not match ${ID_PATTERN}`);
    this.name = 'InvalidIdError';
  }
}

function id(field: string, value: unknown): string {
  if (typeof value !== 'string' || !ID_PATTERN.test(value)) throw new InvalidIdError(field, value);
  return value;
}

export interface CacheKey {
  readonly key: string;
  readonly space: KeySpace;
}

function key(space: KeySpace, accountId: unknown, subId?: { field: string; value: unknown }): CacheKey {
  const account = id('account_id', accountId);
  const suffix = subId ? `:${id(subId.field, subId.value)}` : '';
  return { key: `v1:{acct:${account}}:${space}${suffix}`, space };
}

export const cacheKeys = {
  accountSettings: (accountId: string): CacheKey => key('account-settings', accountId),
  doctorSettings: (accountId: string, doctorId: string): CacheKey => key('doctor-settings', accountId, { field: 'doctor_id', value: doctorId }),
  staffPermission: (accountId: string, staffId: string): CacheKey => key('staff-permission', accountId, { field: 'staff_id', value: staffId }),
  staffPermissionList: (accountId: string): CacheKey => key('staff-permission-list', accountId),
  onPatientSettings: (accountId: string): CacheKey => key('onpatient-settings', accountId),
};

/**
 * Generation of a key space (no TTL; Cluster: its own slot, read alongside the entry). Its
 * value is a random number, never a counter: see generation.ts for why.
 */
export function generationKey(space: KeySpace): string {
  return `v1:{gen:${space}}`;
}

/** The run id of the Redis server the generations were created on (see redis-incarnation.ts). */
export function redisIncarnationKey(): string {
  return 'v1:{meta}:redis-run-id';
}

/** Written (with a short TTL) by the invalidator's health probe: "can Redis take a write?". */
export function invalidatorProbeKey(): string {
  return 'v1:{meta}:invalidator-probe';
}

/**
 * Every key a row of `table` affects. Used with both the `before` and the `after` image of a
 * change, so a key column that changes evicts the old key too. A staff permission row also
 * maps to its account's list: the list has its own summary row (`staff_permission_lists`,
 * bumped by a trigger), and evicting from the row event as well costs one marker and
 * covers writes that bypass the trigger.
 */
export function keysForRow(table: CachedTable, row: Readonly<Record<string, unknown>>): CacheKey[] {
  switch (table) {
    case 'account_settings':
      return [cacheKeys.accountSettings(row.account_id as string)];
    case 'doctor_settings':
      return [cacheKeys.doctorSettings(row.account_id as string, row.doctor_id as string)];
    case 'staff_permissions':
      return [cacheKeys.staffPermission(row.account_id as string, row.staff_id as string), cacheKeys.staffPermissionList(row.account_id as string)];
    case 'staff_permission_lists':
      return [cacheKeys.staffPermissionList(row.account_id as string)];
    case 'onpatient_settings':
      return [cacheKeys.onPatientSettings(row.account_id as string)];
  }
}

/** Key spaces whose generation a TRUNCATE of `table` must bump. */
export function spacesTruncatedBy(table: CachedTable): KeySpace[] {
  return (Object.keys(KEY_SPACES) as KeySpace[]).filter((s) => (KEY_SPACES[s].truncatedBy as readonly string[]).includes(table));
}
