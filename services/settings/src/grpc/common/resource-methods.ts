import type { Consistency } from '@settings/api';
import type { ReadSource, ReadThrough } from '../../cache/read-through';
import { parseReadMode } from '../../consistency/read-mode';
import { SettingsError, Violations } from '../../errors';
import type { CallContext } from '../unary';
import { columnChanges, resolveMask, type FieldSpec } from './field-mask';
import { parseName, parsers, type AccountRef, type NameParser } from './names';

/** AIP-231 batch limit; the proto documents the same number. */
export const MAX_BATCH_NAMES = 100;

export interface Resource<R extends AccountRef, T> {
  readonly parser: NameParser<R>;
  readonly source: ReadSource<R, T>;
}

/** AIP-131 Get: validate the name, authorize its account, then read through the cache. */
export async function getResource<R extends AccountRef, T>(
  readThrough: ReadThrough,
  resource: Resource<R, T>,
  req: { name: string; consistency?: Consistency | undefined },
  ctx: CallContext,
): Promise<T> {
  const violations = new Violations();
  const ref = parseName(resource.parser, req.name, 'name', violations);
  violations.throwIfAny();
  ctx.authorize(ref!.accountId);
  const found = await readThrough.get(resource.source, ref!, ctx.readRequest(parseReadMode(req.consistency)));
  if (!found) throw new SettingsError('NOT_FOUND', `${req.name} not found`);
  return found.value;
}

/** AIP-231 BatchGet: order preserved, every name authorized, NOT_FOUND if any is missing. */
export async function batchGetResources<R extends AccountRef, T>(
  readThrough: ReadThrough,
  resource: Resource<R, T>,
  req: { names: string[]; parent?: string; consistency?: Consistency | undefined },
  ctx: CallContext,
): Promise<T[]> {
  const violations = new Violations();
  if (req.names.length === 0) violations.add('names', 'at least one name is required');
  if (req.names.length > MAX_BATCH_NAMES) violations.add('names', `at most ${MAX_BATCH_NAMES} names per call`);
  const parent = req.parent ? parseName(parsers.account, req.parent, 'parent', violations) : undefined;
  violations.throwIfAny();
  const refs = req.names.map((n, i) => parseName(resource.parser, n, `names[${i}]`, violations));
  if (parent) {
    refs.forEach((r, i) => {
      if (r && r.accountId !== parent.accountId) violations.add(`names[${i}]`, `must be under ${req.parent}`);
    });
  }
  violations.throwIfAny();
  if (parent) ctx.authorize(parent.accountId);
  for (const r of refs) ctx.authorize(r!.accountId);
  const found = await readThrough.getMany(resource.source, refs as R[], ctx.readRequest(parseReadMode(req.consistency)));
  const missing = found.findIndex((f) => f === undefined);
  if (missing >= 0) throw new SettingsError('NOT_FOUND', `${req.names[missing]} not found`);
  return found.map((f) => f!.value);
}

export interface UpdateInput<M> {
  /** Request field holding the resource, e.g. `account_settings`. */
  readonly field: string;
  readonly message: M | undefined;
  readonly mask: readonly string[] | undefined;
}

export interface ParsedUpdate<R> {
  readonly ref: R;
  readonly changes: Record<string, unknown>;
  readonly etag: bigint | undefined;
}

/** AIP-134 Update: name, authorization, mask, etag and the masked values, all checked before any write. */
export function parseUpdate<R extends AccountRef, M extends { name: string; etag: string }>(
  parser: NameParser<R>,
  specs: readonly FieldSpec<M>[],
  input: UpdateInput<M>,
  ctx: CallContext,
): ParsedUpdate<R> {
  const violations = new Violations();
  if (!input.message) {
    violations.add(input.field, 'required');
    violations.throwIfAny();
  }
  const message = input.message!;
  const ref = parseName(parser, message.name, `${input.field}.name`, violations);
  violations.throwIfAny();
  ctx.authorize(ref!.accountId);
  const etag = parseEtag(message.etag, `${input.field}.etag`, violations);
  const chosen = resolveMask(specs, input.mask, message, violations);
  const changes = columnChanges(chosen, message, input.field, violations);
  violations.throwIfAny();
  return { ref: ref!, changes, etag };
}

/** Etags are versions this service issued: a decimal integer, or empty for "unconditional". */
export function parseEtag(etag: string, field: string, violations: Violations): bigint | undefined {
  if (etag === '') return undefined;
  if (!/^[1-9][0-9]{0,18}$/.test(etag)) {
    violations.add(field, 'must be an etag returned by this service, or empty');
    return undefined;
  }
  return BigInt(etag);
}
