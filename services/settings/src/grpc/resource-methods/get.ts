import type { Loaded, ReadSource, ReadThrough } from '../../cache/read-through';
import { parseReadMode } from '../../consistency/read-mode';
import type { ConsistencyTokens } from '../../consistency/token';
import { SettingsError, Violations } from '../../errors';
import { accountName, type AccountKey } from '../../resources/account';
import type { ResourceName } from '../../resources/resource-name';
import { parseName } from '../../resources/resource-name';
import { messageOrCachedBytes } from '../pre-encoded-response';
import type { CallContext } from '../unary';
import type { BatchGetRequest, GetRequest } from './rpc-types';

/** AIP-231 batch limit; the proto documents the same number. */
export const MAX_BATCH_NAMES = 100;

/**
 * AIP-131 Get: validate the name, authorize its account, then read through the cache. A
 * near-cache hit is answered synchronously (no promise: see unary.ts).
 */
export function getResource<K extends AccountKey, T>(
  readThrough: ReadThrough,
  name: ResourceName<K>,
  source: ReadSource<K, T>,
  req: GetRequest,
  ctx: CallContext,
  tokens: ConsistencyTokens,
): T | Promise<T> {
  // The valid name first, without collecting violations (the hot path of every cached Get).
  const key = name.parse(req.name) ?? rejectName(name, req.name, 'name');
  ctx.authorize(key.account_id);
  const found = readThrough.read(source, key, ctx.readRequest(parseReadMode(req.consistency, tokens)));
  return found instanceof Promise ? found.then((f) => respond(f, req.name)) : respond(found, req.name);
}

function respond<T>(found: Loaded<T> | undefined, name: string): T {
  if (!found) throw new SettingsError('NOT_FOUND', `${name} not found`);
  return messageOrCachedBytes(found);
}

/** Throws INVALID_ARGUMENT naming `field` for a name that does not parse. */
function rejectName<K>(name: ResourceName<K>, value: string, field: string): never {
  const violations = new Violations();
  parseName(name, value, field, violations);
  violations.throwIfAny();
  throw new SettingsError('INTERNAL', `${field} parsed on the second attempt`);
}

/** AIP-231 BatchGet: order preserved, every name authorized, NOT_FOUND if any is missing. */
export async function batchGetResources<K extends AccountKey, T>(
  readThrough: ReadThrough,
  name: ResourceName<K>,
  source: ReadSource<K, T>,
  req: BatchGetRequest,
  ctx: CallContext,
  tokens: ConsistencyTokens,
): Promise<T[]> {
  const violations = new Violations();
  if (req.names.length === 0) violations.add('names', 'at least one name is required');
  if (req.names.length > MAX_BATCH_NAMES) violations.add('names', `at most ${MAX_BATCH_NAMES} names per call`);
  const parent = req.parent ? parseName(accountName, req.parent, 'parent', violations) : undefined;
  violations.throwIfAny();
  const keys = req.names.map((n, i) => parseName(name, n, `names[${i}]`, violations));
  if (parent) {
    keys.forEach((k, i) => {
      if (k && k.account_id !== parent.account_id) violations.add(`names[${i}]`, `must be under ${req.parent}`);
    });
  }
  violations.throwIfAny();
  if (parent) ctx.authorize(parent.account_id);
  for (const k of keys) ctx.authorize(k!.account_id);
  const found = await readThrough.getMany(source, keys as K[], ctx.readRequest(parseReadMode(req.consistency, tokens)));
  const missing = found.findIndex((f) => f === undefined);
  if (missing >= 0) throw new SettingsError('NOT_FOUND', `${req.names[missing]} not found`);
  return found.map((f) => f!.value);
}
