import type { Knex } from 'knex';
import { SettingsError } from '../errors';
import type { Row } from '../resources/resource';
import { checkEtag, lockRow, type RowLockWaits } from './row-lock';

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
 * same version. allow_missing inserts with column defaults for fields outside the mask; a
 * concurrent creator is handled by ON CONFLICT DO NOTHING and a second, locking read.
 */
export async function writeSingleton(trx: Knex.Transaction, w: SingletonWrite, waits: RowLockWaits): Promise<Row> {
  let row = await lockRow(trx, w.table, w.key, waits);
  if (!row) {
    if (!w.allowMissing) throw new SettingsError('NOT_FOUND', `${w.name} not found (set allow_missing to create it)`);
    if (w.etag !== undefined) throw new SettingsError('ETAG_MISMATCH', `${w.name} does not exist, so etag ${w.etag} cannot match`);
    const inserted = (await trx(w.table)
      .insert({ ...w.changes, ...w.key })
      .onConflict(Object.keys(w.key))
      .ignore()
      .returning('*')) as Row[];
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
