import type { Knex } from 'knex';
import type { Loaded } from '../cache/read-through';
import type { Row, SettingsResource, VersionedMessage } from '../resources/resource';
import type { ResourceKey } from '../resources/resource-name';
import { loadedFromRow, rowKey, type TokenIssuer } from '../resources/row-mapping';
import { batchedLoad, type KeyedLoad } from './batched-load';
import type { Db } from './db';

/** Reads of any resource, by its descriptor's table and key columns. */
export class ResourceRepo<C extends string, T extends VersionedMessage> {
  constructor(
    protected readonly db: Db,
    readonly resource: SettingsResource<C, T>,
    protected readonly tokens: TokenIssuer,
  ) {}

  /**
   * The resources of `keys`, by cache key: the key the reader looks them up under, computed from
   * the row by the same descriptor. Missing keys do not exist. Loads that arrive together share
   * one query (batched-load.ts).
   */
  readonly load: KeyedLoad<ResourceKey<C>, T> = batchedLoad(
    (keys, deadline) => this.loadNow(keys, deadline),
    (key) => this.resource.table.key(key).key,
  );

  /**
   * One query (`WHERE (key columns) IN (...)`); repeated keys are read once. A row that cannot be
   * mapped (a value written around the service that the message cannot hold, e.g. `[null]` in
   * a JSON array column) is that key's Error: the other callers of the batch, other tenants
   * among them, still get their rows.
   */
  private async loadNow(keys: readonly ResourceKey<C>[], deadline: number): Promise<Map<string, Loaded<T> | Error>> {
    const { table, keyColumns } = this.resource.table;
    const distinct = [...new Map(keys.map((k) => [this.resource.table.key(k).key, keyColumns.map((c) => k[c])])).values()];
    const rows = await this.db.read<Row[]>(`${table}.read`, deadline, (k) => whereKeyIn(k(table), keyColumns, distinct), distinct.length);
    return new Map(rows.map((r) => [this.resource.table.key(rowKey(this.resource, r)).key, mapped(() => loadedFromRow(this.resource, r, this.tokens))]));
  }
}

function whereKeyIn(query: Knex.QueryBuilder, columns: readonly string[], values: string[][]): Knex.QueryBuilder {
  // A one-column key as a plain IN list, which is what PostgreSQL plans best for a primary key.
  return columns.length === 1 ? query.whereIn(columns[0]!, values.map((v) => v[0]!)) : query.whereIn([...columns], values);
}

function mapped<T>(toMessage: () => Loaded<T>): Loaded<T> | Error {
  try {
    return toMessage();
  } catch (err) {
    return err instanceof Error ? err : new Error(String(err));
  }
}
