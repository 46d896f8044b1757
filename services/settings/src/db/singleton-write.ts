import type { Knex } from 'knex';
import { SettingsError } from '../errors';
import type { Row } from '../resources/resource';
import { checkEtag, etagMismatchError, lockRow, withCappedLockWait, type RowLockWaits } from './row-lock';

export interface SingletonWrite {
  readonly table: string;
  /** Primary key columns and values. */
  readonly key: Readonly<Record<string, string>>;
  readonly changes: Readonly<Record<string, unknown>>;
  /** Required current version (AIP-154); undefined = unconditional. */
  readonly etag: bigint | undefined;
  readonly allowMissing: boolean;
  /** Resource name for messages. */
  readonly name: string;
}

/**
 * Read-modify-write of a singleton under a row lock, so the etag check and the update see the
 * same version. `heldByOther`: the one-statement save just found the row held by another
 * transaction (lockRow waits for it at once). allow_missing inserts with column defaults for fields outside the mask; a
 * concurrent creator is handled by ON CONFLICT DO NOTHING and a second, locking read.
 */
export async function writeSingleton(trx: Knex.Transaction, w: SingletonWrite, waits: RowLockWaits, heldByOther = false): Promise<Row> {
  let row = await lockRow(trx, w.table, w.key, waits, heldByOther);
  if (!row) {
    if (!w.allowMissing) throw new SettingsError('NOT_FOUND', `${w.name} not found (set allow_missing to create it)`);
    if (w.etag !== undefined) throw new SettingsError('ETAG_MISMATCH', `${w.name} does not exist, so etag ${w.etag} cannot match`);
    // Waits for a row another transaction is inserting under the lock-wait cap (row-lock.ts).
    const inserted = await withCappedLockWait(trx, waits, () => trx(w.table).insert({ ...w.changes, ...w.key }).onConflict(Object.keys(w.key)).ignore().returning('*') as PromiseLike<Row[]>);
    if (inserted[0]) return inserted[0];
    row = await lockRow(trx, w.table, w.key, waits);
    if (!row) throw new SettingsError('CONCURRENT_MODIFICATION', `${w.name} was created and deleted concurrently; retry`);
  }
  checkEtag(row, w.etag, w.name);
  // Nothing to write: no new version, so no invalidation and no change event.
  if (Object.keys(w.changes).length === 0) return row;
  const [updated] = (await trx(w.table).where(w.key).update(w.changes).returning('*')) as Row[];
  return updated!;
}

/** What the one-statement save (updateFreeRowStatement) found. */
export type FreeRowUpdate =
  | { readonly kind: 'updated'; readonly row: Row }
  /** No such row (yet): the transaction decides between NOT_FOUND and an allow_missing insert. */
  | { readonly kind: 'missing' }
  /** Another transaction holds the row: the transaction waits for it, if a lock wait is free. */
  | { readonly kind: 'locked' }
  /** Not expected (found, free, no etag, not updated): the transaction's path decides. */
  | { readonly kind: 'other' };

const FOUND = '__found';
const FREE = '__free';

/**
 * The common save as one statement: lock the row if nobody else holds it (SKIP LOCKED, never
 * waits), update it if the etag matches, and say why not otherwise — one round trip instead of
 * a transaction's five. The update re-checks `version` on the row it locked (READ COMMITTED
 * re-evaluates an UPDATE's condition on the newest row version), so the etag check and the write
 * see the same version, as in writeSingleton. Only for a non-empty change set.
 */
export function updateFreeRowStatement(knex: Knex, w: SingletonWrite): Knex.QueryBuilder {
  const keyColumns = Object.keys(w.key);
  let update = knex(w.table)
    .where(w.key)
    .whereExists(knex.select(knex.raw('1')).from('free'));
  if (w.etag !== undefined) update = update.andWhere('version', w.etag.toString());
  return knex
    .with('found', knex(w.table).select(keyColumns).where(w.key))
    .with('free', knex(w.table).select(keyColumns).where(w.key).forUpdate().skipLocked())
    .with('updated', update.update(w.changes).returning('*'))
    .select(knex.raw(`(SELECT count(*) FROM found)::int AS ??, (SELECT count(*) FROM free)::int AS ??`, [FOUND, FREE]), 'updated.*')
    .from(knex.raw('(SELECT 1) AS one'))
    .leftJoin('updated', knex.raw('true'));
}

/** The outcome of updateFreeRowStatement's one result row; ETAG_MISMATCH when the row was free and its version another. */
export function freeRowUpdateOutcome(rows: ReadonlyArray<Record<string, unknown>>, w: Pick<SingletonWrite, 'etag' | 'name'>): FreeRowUpdate {
  const { [FOUND]: found, [FREE]: free, ...row } = rows[0] ?? {};
  if (row.version !== null && row.version !== undefined) return { kind: 'updated', row: row as Row };
  if (found === 0) return { kind: 'missing' };
  if (free === 0) return { kind: 'locked' };
  // Free, found, not updated: only the etag condition can have refused it.
  if (w.etag === undefined) return { kind: 'other' };
  throw etagMismatchError(w.etag, w.name);
}
