import type { Loaded } from '../cache/read-through';
import type { ConsistencyTokens } from '../consistency/token';
import type { Row, SettingsResource, VersionedMessage } from './resource';
import type { ResourceKey } from './resource-name';

/**
 * AIP-148 standard output-only fields, stored in columns of the same name (set by the table's
 * trigger and defaults). A message without such a field ignores the value.
 */
const STANDARD_OUTPUT_COLUMNS = ['create_time', 'update_time'] as const;

/** The row's version (`settings_version_seq`, bigint: node-postgres returns it as a string). */
export function rowVersion(row: Row): bigint {
  return BigInt(row.version as string);
}

/** The key columns of a row (NOT NULL text, CHECKed against the id pattern by the table). */
export function rowKey<C extends string>(resource: SettingsResource<C, VersionedMessage>, row: Row): ResourceKey<C> {
  return Object.fromEntries(resource.table.keyColumns.map((c) => [c, String(row[c])])) as ResourceKey<C>;
}

/** Signs the consistency tokens put into messages (token.ts). */
export type TokenIssuer = Pick<ConsistencyTokens, 'issue'>;

/**
 * A row as the message the API returns, for every resource alike. Each writable field is read
 * from the column its field spec writes, at its proto path, and the message is built with the
 * generated `fromJSON`: columns hold values in proto3 JSON form (enum names, `working_hours` as
 * JSON), so no resource needs a mapping of its own. Then the fields every resource has: `name`
 * from the key columns, `etag` = the version, `consistency_token` for it, the standard times.
 */
export function loadedFromRow<C extends string, T extends VersionedMessage>(resource: SettingsResource<C, T>, row: Row, tokens: TokenIssuer): Loaded<T> {
  const version = rowVersion(row);
  const json: Record<string, unknown> = {
    name: resource.name.format(rowKey(resource, row)),
    etag: version.toString(),
    consistency_token: tokens.issue(version),
  };
  for (const column of STANDARD_OUTPUT_COLUMNS) json[column] = row[column];
  for (const field of resource.fields) setPath(json, field.path, row[field.column]);
  return { version, value: resource.proto.message.fromJSON(json) };
}

/** Sets `a.b.c` in nested objects, creating them: nested messages are flattened into columns. */
function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const segments = path.split('.');
  const leaf = segments.pop()!;
  let node = target;
  for (const s of segments) node = (node[s] ??= {}) as Record<string, unknown>;
  node[leaf] = value;
}
