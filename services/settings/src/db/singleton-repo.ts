import type { VersionedMessage } from '../resources/resource';
import type { ResourceKey } from '../resources/resource-name';
import { loadedFromRow } from '../resources/row-mapping';
import { ResourceRepo } from './resource-repo';
import { writeSingleton } from './singleton-write';

export interface SingletonUpdate<C extends string> {
  readonly key: ResourceKey<C>;
  /** Column values of the masked fields, already checked. */
  readonly changes: Record<string, unknown>;
  readonly etag: bigint | undefined;
  readonly allowMissing: boolean;
}

/** A settings singleton (AIP-156): read like any resource, updated in place, created by `allow_missing`. */
export class SingletonRepo<C extends string, T extends VersionedMessage> extends ResourceRepo<C, T> {
  async update(u: SingletonUpdate<C>, deadline: number): Promise<T> {
    const { table } = this.resource.table;
    const name = this.resource.name.format(u.key);
    const row = await this.db.write(`${table}.write`, deadline, (trx, waits) =>
      writeSingleton(trx, { table, key: u.key, changes: u.changes, etag: u.etag, allowMissing: u.allowMissing, name }, waits),
    );
    return loadedFromRow(this.resource, row, this.tokens).value;
  }
}
