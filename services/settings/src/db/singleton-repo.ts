import type { VersionedMessage } from '../resources/resource';
import type { ResourceKey } from '../resources/resource-name';
import { loadedFromRow } from '../resources/row-mapping';
import { ResourceRepo } from './resource-repo';
import { lockWaitsFull, rowLockedError } from './row-lock';
import { freeRowUpdateOutcome, updateFreeRowStatement, writeSingleton, type SingletonWrite } from './singleton-write';

export interface SingletonUpdate<C extends string> {
  readonly key: ResourceKey<C>;
  /** Column values of the masked fields, already checked. */
  readonly changes: Record<string, unknown>;
  readonly etag: bigint | undefined;
  readonly allowMissing: boolean;
}

/** A settings singleton (AIP-156): read like any resource, updated in place, created by `allow_missing`. */
export class SingletonRepo<C extends string, T extends VersionedMessage> extends ResourceRepo<C, T> {
  /**
   * A row nobody else holds is saved with one statement (updateFreeRowStatement). A missing row
   * (allow_missing) or one another transaction holds goes through writeSingleton's transaction,
   * which for a held row goes straight to the lock wait (BEGIN, timeouts, SELECT … FOR UPDATE,
   * UPDATE, COMMIT); a held row fails at once with ROW_LOCKED when every lock wait of this
   * process is taken.
   */
  async update(u: SingletonUpdate<C>, deadline: number): Promise<T> {
    const { table } = this.resource.table;
    const w: SingletonWrite = { table, key: u.key, changes: u.changes, etag: u.etag, allowMissing: u.allowMissing, name: this.resource.name.format(u.key) };
    // The one-statement attempt's wait for a connection counts against the lock budget (db.ts).
    const savingSince = this.db.now();
    let heldByOther = false;
    if (Object.keys(w.changes).length > 0) {
      const rows = await this.db.writeStatement<Array<Record<string, unknown>>>(`${table}.write`, deadline, (knex) => updateFreeRowStatement(knex, w));
      const outcome = freeRowUpdateOutcome(rows, w);
      if (outcome.kind === 'updated') return loadedFromRow(this.resource, outcome.row, this.tokens).value;
      heldByOther = outcome.kind === 'locked';
      if (heldByOther && lockWaitsFull(this.db.lockWaits)) throw rowLockedError(this.db.lockWaits);
    }
    const row = await this.db.write(`${table}.write`, deadline, (trx, waits) => writeSingleton(trx, w, waits, heldByOther), savingSince, heldByOther);
    return loadedFromRow(this.resource, row, this.tokens).value;
  }
}
