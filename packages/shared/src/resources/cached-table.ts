import { checkedId } from './resource-id';

/** One Redis key and the key space (generation, metrics label) it belongs to. */
export interface TableCacheKey<S extends string = string> {
  readonly key: string;
  readonly space: S;
}

/** Column values of a row or a parsed resource name, by column; only the key columns are read. */
export type ColumnValues<C extends string> = Readonly<Record<C, unknown>>;

/**
 * A cached table as both services see it: the settings service reads and fills `key(...)` of a
 * resource, the invalidator evicts `keysForRow(...)` of each changed row. Both come from the same
 * key columns, so a row and the resource read from it always map to the same key.
 *
 * `C` is the union of the key columns (always including `account_id`), `S` the table's own key
 * space, `A` the key spaces of other tables a row of this one also changes.
 */
export interface CachedTableDescriptor<T extends string = string, S extends string = string, C extends string = string, A extends string = string> {
  readonly table: T;
  /** The key space of this table's own rows. */
  readonly space: S;
  /** The primary key, `account_id` first: it becomes the Redis Cluster hash tag. */
  readonly keyColumns: readonly C[];
  /**
   * The API's name (AIP-122) of one row, `{x}` standing for the key column `x_id`, e.g.
   * `accounts/{account}/doctors/{doctor}/settings`: the settings service parses request names
   * with it, the operator tools resolve a name to its row and key with it.
   */
  readonly namePattern: string;
  /** See CachedTableSpec.payloadFormat. */
  readonly payloadFormat: number;
  /** Key spaces whose entries a row of this table feeds: its own, then those it also evicts. A TRUNCATE bumps all of them. */
  readonly keySpaces: readonly (S | A)[];
  /** The cache key of one row (or resource) of this table. Throws InvalidIdError for an id outside ID_PATTERN. */
  key(ids: ColumnValues<C>): TableCacheKey<S>;
  /** Every key a row affects: its own, then one per table in `alsoEvicts`, keyed by the same row's columns. */
  keysForRow(row: Readonly<Record<string, unknown>>): TableCacheKey<S | A>[];
}

export interface CachedTableSpec<T extends string, S extends string, C extends string, A extends string> {
  readonly table: T;
  readonly space: S;
  readonly keyColumns: readonly ['account_id', ...C[]];
  /** See CachedTableDescriptor.namePattern; its variables must name the key columns in order (checked). */
  readonly namePattern: string;
  /**
   * Which shape of payload the settings service stores in this table's entries (the encoded
   * message, and what each column becomes in it). Bump it in the release that changes either:
   * a new field, a field read from another column, a value mapped differently. Entries carry it
   * folded into their generation (cache/payload-generation.ts), so a release never serves an
   * entry another release filled in another shape: for it that entry is a miss, and the fill it
   * makes replaces it. A unit test of the settings service (payload-format.test.ts) fails when
   * a payload message changes without a bump.
   */
  readonly payloadFormat: number;
  /**
   * Tables whose entries a row of this table changes as well (their key columns must be a
   * subset of this table's). Evicting them from this row's event too costs one marker. Its floor
   * is this row's: it fences the other entry only when that floor is above the other entry's
   * version (a grant's create or update, whose version is drawn after the list's; not a delete,
   * whose floor is the old version + 1: the list's own row event evicts it then).
   */
  readonly alsoEvicts?: readonly CachedTableDescriptor<string, A, string, string>[];
}

/**
 * Key layout: `v1:{acct:<account>}:<space>[:<id>]...` (one `:<id>` per key column after the account).
 *  - `v1` is the entry format version: bump it when the value layout changes, and old entries
 *    simply stop being read (they expire by TTL).
 *  - `{acct:<account>}` is a Redis Cluster hash tag: every key of one account lives in one slot,
 *    so an account's keys can be evicted in one pipeline per node.
 */
export function defineCachedTable<const T extends string, const S extends string, const C extends string = never, const A extends string = never>(
  spec: CachedTableSpec<T, S, C, A>,
): CachedTableDescriptor<T, S, 'account_id' | C, A> {
  const alsoEvicts = spec.alsoEvicts ?? [];
  // Checked once at load: a row without the other table's key columns could never be evicted.
  for (const other of alsoEvicts) {
    if (!other.keyColumns.every((c) => (spec.keyColumns as readonly string[]).includes(c))) throw new Error(`${spec.table} cannot evict ${other.table}: it lacks its key columns`);
  }
  const variables = [...spec.namePattern.matchAll(/\{([a-z]+)\}/g)].map((m) => `${m[1]}_id`);
  if (variables.join() !== spec.keyColumns.join()) throw new Error(`name pattern ${spec.namePattern} does not name the key columns of ${spec.table} (${spec.keyColumns.join(', ')})`);
  const [accountColumn, ...otherColumns] = spec.keyColumns;
  // Built by concatenation, without intermediate arrays: every cached read and every change
  // event of a bulk change computes keys.
  const key = (ids: ColumnValues<'account_id' | C>): TableCacheKey<S> => {
    let k = `v1:{acct:${checkedId(accountColumn, ids[accountColumn])}}:${spec.space}`;
    for (const c of otherColumns) k += `:${checkedId(c, ids[c])}`;
    return { key: k, space: spec.space };
  };
  return {
    table: spec.table,
    space: spec.space,
    keyColumns: spec.keyColumns,
    namePattern: spec.namePattern,
    payloadFormat: spec.payloadFormat,
    keySpaces: [spec.space, ...alsoEvicts.map((t) => t.space)],
    key,
    keysForRow: alsoEvicts.length === 0 ? (row) => [key(row as ColumnValues<'account_id' | C>)] : (row) => [key(row as ColumnValues<'account_id' | C>), ...alsoEvicts.map((t) => t.key(row))],
  };
}
