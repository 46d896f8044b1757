/**
 * The one key map: which exact Redis keys a settings row affects. The settings service uses
 * it to read and fill; the invalidator uses it to evict. Sharing it is what makes
 * invalidation exact — there is never a pattern delete, a SCAN, or a FLUSH.
 *
 * Everything here is derived from the table descriptors (resources/settings-tables.ts), which
 * hold each table's key columns and key spaces; the key layout `v1:{acct:<account>}:<space>[:<id>]`
 * is explained in resources/cached-table.ts. Ids are validated against ID_PATTERN before they
 * reach a key, so no input can forge another tenant's key.
 */
import type { TableCacheKey } from '../resources/cached-table';
import {
  accountSettingsTable,
  doctorSettingsTable,
  onPatientSettingsTable,
  SETTINGS_TABLES,
  staffPermissionListsTable,
  staffPermissionsTable,
  type SettingsTable,
} from '../resources/settings-tables';

export { ID_PATTERN, InvalidIdError } from '../resources/resource-id';

export type CachedTable = SettingsTable['table'];
export type KeySpace = SettingsTable['space'];
export type CacheKey = TableCacheKey<KeySpace>;

export const CACHED_TABLES: readonly CachedTable[] = SETTINGS_TABLES.map((t) => t.table);

/** The descriptor of `table`, or undefined for a table outside the key map. */
export function cachedTableNamed(table: string): SettingsTable | undefined {
  return SETTINGS_TABLES.find((t) => t.table === table);
}

export function isCachedTable(table: string): table is CachedTable {
  return cachedTableNamed(table) !== undefined;
}

/**
 * A key space is one kind of cache entry. Each has a generation in Redis; a TRUNCATE of any table
 * listed in `truncatedBy` (every table whose rows feed the space) replaces it, which makes every
 * entry of that space unreadable at once without enumerating keys.
 */
export const KEY_SPACES: Readonly<Record<KeySpace, { readonly truncatedBy: readonly CachedTable[] }>> = (() => {
  const spaces = {} as Record<KeySpace, { truncatedBy: CachedTable[] }>;
  for (const s of SETTINGS_TABLES) {
    spaces[s.space] = { truncatedBy: SETTINGS_TABLES.filter((t) => (t.keySpaces as readonly KeySpace[]).includes(s.space)).map((t) => t.table) };
  }
  return spaces;
})();

/** Keys by resource, for callers that name one (tests, benchmarks, tools). */
export const cacheKeys = {
  accountSettings: (accountId: string): CacheKey => accountSettingsTable.key({ account_id: accountId }),
  doctorSettings: (accountId: string, doctorId: string): CacheKey => doctorSettingsTable.key({ account_id: accountId, doctor_id: doctorId }),
  staffPermission: (accountId: string, staffId: string): CacheKey => staffPermissionsTable.key({ account_id: accountId, staff_id: staffId }),
  staffPermissionList: (accountId: string): CacheKey => staffPermissionListsTable.key({ account_id: accountId }),
  onPatientSettings: (accountId: string): CacheKey => onPatientSettingsTable.key({ account_id: accountId }),
};

/**
 * Generation of a key space (no TTL; Cluster: its own slot, read alongside the entry). Its
 * value is a random number, never a counter: see generation.ts for why.
 */
export function generationKey(space: KeySpace): string {
  return `v1:{gen:${space}}`;
}

/**
 * The key prefixes a reader's near-cache (an in-process copy of entries and generations) must be
 * told about when anything under them changes: every entry and marker key
 * (`v1:{acct:<account>}:...`) and every generation key (`v1:{gen:<space>}`). Used as the `PREFIX`
 * list of `CLIENT TRACKING ... BCAST`. Meta keys (`v1:{meta}:...`: run id, probe, audit stream)
 * and fill leases are deliberately outside: their changes say nothing about a cached value, and
 * the audit stream changes on every sampled hit.
 */
export const TRACKED_KEY_PREFIXES: readonly string[] = ['v1:{acct:', 'v1:{gen:'];

/**
 * The fill lease of an entry key (fill-lease.ts): `v1:lease:{acct:<account>}:<space>[:<id>]`.
 * Same hash tag as the entry (Cluster: same slot), outside TRACKED_KEY_PREFIXES, never an entry.
 */
export function fillLeaseKey(entryKey: string): string {
  if (!entryKey.startsWith('v1:{acct:')) throw new Error(`not an entry key: ${entryKey}`);
  return `v1:lease:${entryKey.slice(3)}`;
}

/** The run id of the Redis server the generations were created on (see redis-incarnation.ts). */
export function redisIncarnationKey(): string {
  return 'v1:{meta}:redis-run-id';
}

/**
 * The replication ids (`master_replid`) the generations were created under, beside the run id
 * (redis-incarnation.ts). A key of its own, so that a release that compares only the run id reads
 * the run-id key as it always did.
 */
export function redisReplicationIdKey(): string {
  return 'v1:{meta}:redis-replid';
}

/** Written (with a short TTL) by the invalidator's health probe: "can Redis take a write?". */
export function invalidatorProbeKey(): string {
  return 'v1:{meta}:invalidator-probe';
}

/**
 * The capped stream of sampled cache hits (audit-sample.ts): the settings service appends, the
 * invalidator's staleness auditor reads. Not an entry key; never read by the read path.
 */
export function auditSamplesKey(): string {
  return 'v1:{meta}:audit-samples';
}

/**
 * Every key a row of `table` affects. Used with both the `before` and the `after` image of a
 * change, so a key column that changes evicts the old key too.
 */
export function keysForRow(table: CachedTable, row: Readonly<Record<string, unknown>>): CacheKey[] {
  return cachedTableNamed(table)!.keysForRow(row);
}

/** Key spaces whose generation a TRUNCATE of `table` must replace. */
export function spacesTruncatedBy(table: CachedTable): KeySpace[] {
  return [...cachedTableNamed(table)!.keySpaces];
}
