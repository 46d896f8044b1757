import type { Knex } from 'knex';
import { SettingsError } from '../errors';
import type { Row } from '../resources/resource';
import { rowVersion } from '../resources/row-mapping';

/**
 * The row of `key`, locked FOR UPDATE until the transaction ends, so the etag check below and the
 * write after it see the same version (READ COMMITTED would otherwise let a concurrent writer in
 * between).
 */
export async function lockRow(trx: Knex.Transaction, table: string, key: Readonly<Record<string, string>>): Promise<Row | undefined> {
  return (await trx(table).where(key).forUpdate().first()) as Row | undefined;
}

/** AIP-154: a non-empty etag is the version the caller read; anything else is a lost update. */
export function checkEtag(row: Row, etag: bigint | undefined, name: string): void {
  if (etag !== undefined && rowVersion(row) !== etag) {
    throw new SettingsError('ETAG_MISMATCH', `etag ${etag} does not match the current etag of ${name}; re-read and retry`);
  }
}
