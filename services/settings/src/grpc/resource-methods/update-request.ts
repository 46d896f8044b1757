import { MAX_BIGINT } from '../../consistency/token';
import { Violations } from '../../errors';
import { columnChanges, resolveMask } from '../../resources/field-spec';
import type { SettingsResource, VersionedMessage } from '../../resources/resource';
import type { ResourceKey } from '../../resources/resource-name';
import { parseName } from '../../resources/resource-name';
import { protoFieldPath } from '../proto-field-path';
import type { CallContext } from '../unary';

export interface ParsedUpdate<K> {
  readonly key: K;
  /** Column values of the masked fields. */
  readonly changes: Record<string, unknown>;
  readonly etag: bigint | undefined;
}

/** AIP-134 Update: name, authorization, mask, etag and the masked values, all checked before any write. */
export function parseUpdate<C extends string, T extends VersionedMessage>(
  resource: SettingsResource<C, T>,
  input: { readonly message: T | undefined; readonly mask: readonly string[] | undefined },
  ctx: CallContext,
): ParsedUpdate<ResourceKey<C>> {
  const field = protoFieldPath(resource.proto.field);
  const violations = new Violations();
  if (!input.message) {
    violations.add(field, 'required');
    violations.throwIfAny();
  }
  const message = input.message!;
  const key = parseName(resource.name, message.name, `${field}.name`, violations);
  violations.throwIfAny();
  ctx.authorize(key!.account_id);
  const etag = parseEtag(message.etag, `${field}.etag`, violations);
  const chosen = resolveMask(resource.fields, input.mask, message, violations, resource.outputOnly);
  const changes = columnChanges(chosen, message, field, violations);
  violations.throwIfAny();
  return { key: key!, changes, etag };
}

/**
 * Etags are versions this service issued: a decimal integer up to bigint's maximum, or empty for
 * "unconditional". Nineteen digits also spell values above bigint, which PostgreSQL refused when
 * the etag was compared with the version column (22003, INTERNAL): such an etag is refused here.
 */
export function parseEtag(etag: string, field: string, violations: Violations): bigint | undefined {
  if (etag === '') return undefined;
  const version = /^[1-9][0-9]{0,18}$/.test(etag) ? BigInt(etag) : undefined;
  if (version === undefined || version > MAX_BIGINT) {
    violations.add(field, 'must be an etag returned by this service, or empty');
    return undefined;
  }
  return version;
}
