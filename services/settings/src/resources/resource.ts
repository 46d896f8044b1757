import type { CachedTableDescriptor, KeySpace } from '@settings/shared';
import { COMMON_OUTPUT_ONLY_PATHS, type FieldSpec } from './field-spec';
import { resourceName, type ResourceKey, type ResourceName } from './resource-name';

/** A database row as knex returns it, by column. */
export type Row = Record<string, unknown>;

/** What every settings message carries besides its fields; set by the one row mapping (row-mapping.ts). */
export interface VersionedMessage {
  name: string;
  etag: string;
  consistencyToken: string;
  updateTime?: Date | undefined;
}

/** The generated ts-proto functions used: protobuf bytes for cache entries, proto3 JSON for rows. */
export interface MessageCodec<T> {
  encode(message: T): { finish(): Uint8Array };
  decode(input: Uint8Array): T;
  /** Accepts proto field names (`time_zone`) as well as JSON names (`timeZone`). */
  fromJSON(object: unknown): T;
}

/**
 * The resource in settings_service.proto: its message and the names it goes by. Methods are
 * `Get<singular>`, `BatchGet<plural>`, `Update<singular>`...; `field` holds one message in
 * Create/Update requests and `pluralField` several in BatchGet responses (camelCase, as ts-proto
 * names them). Settings are uncountable: their singular and plural are the same word.
 */
export interface ResourceProto<T, S extends string = string, PS extends string = string, F extends string = string, PF extends string = string> {
  readonly message: MessageCodec<T>;
  readonly singular: S;
  readonly plural: PS;
  readonly field: F;
  readonly pluralField: PF;
}

/**
 * Everything the service knows about one kind of resource, in one place: the shared table
 * descriptor (table, key columns, cache keys — the part the invalidator uses too), its AIP name,
 * its proto message and method names, and its writable fields, which are also the row ↔ message
 * mapping (row-mapping.ts). The generic reads, writes, cache source and methods (db/,
 * grpc/resource-methods/) are built from it alone.
 */
export interface SettingsResource<C extends string, T extends VersionedMessage, P extends ResourceProto<T> = ResourceProto<T>> {
  readonly table: CachedTableDescriptor<string, KeySpace, 'account_id' | C, KeySpace>;
  readonly name: ResourceName<ResourceKey<C>>;
  readonly proto: P;
  /**
   * Writable fields: proto path ↔ column, check, and how a value is stored. Every other field of
   * the message is output only and filled by row-mapping.ts (name, etag, consistency_token,
   * create_time, update_time).
   */
  readonly fields: readonly FieldSpec<T>[];
  /** Output-only paths an update mask may name (ignored): the common ones and the resource's own. */
  readonly outputOnly: readonly string[];
}

/**
 * Declares a resource. Its name is the shared table descriptor's `namePattern`, whose variables
 * name the key columns of `table` (`{doctor}` is `doctor_id`, checked when the module loads); the
 * proto names keep their literal types, from which the gRPC methods are typed.
 */
export function settingsResource<C extends string, T extends VersionedMessage, const S extends string, const PS extends string, const F extends string, const PF extends string>(spec: {
  readonly table: SettingsResource<C, T>['table'];
  readonly proto: ResourceProto<T, S, PS, F, PF>;
  readonly fields: readonly FieldSpec<T>[];
  /** Output-only paths of this message beyond COMMON_OUTPUT_ONLY_PATHS (a grant's `create_time`). */
  readonly outputOnly?: readonly string[];
}): SettingsResource<C, T, ResourceProto<T, S, PS, F, PF>> {
  return {
    table: spec.table,
    name: resourceName(spec.table.namePattern, spec.table.keyColumns),
    proto: spec.proto,
    fields: spec.fields,
    outputOnly: [...COMMON_OUTPUT_ONLY_PATHS, ...(spec.outputOnly ?? [])],
  };
}
