import { generationKey, PAYLOAD_FORMATS, parseCacheValue, payloadFormatOf, servedGeneration, type CacheRedisClient, type CacheValue } from '@settings/shared';
import type { RowVersionSource } from '../audit/row-versions';
import { KNOWN_RESOURCE_PATTERNS, resolveResourceName } from './resource-names';

/**
 * fresh: a readable entry at the row's version. stale: a readable entry at another version (or
 * of a deleted row). marker: evicted; the next read loads the row. missing: nothing readable (no
 * entry, or an entry of an older generation of its key space).
 */
export type Verdict = 'fresh' | 'stale' | 'marker' | 'missing';

export interface Inspection {
  name: string;
  table: string;
  key: string;
  space: string;
  /** What the key holds in Redis (versions as decimal strings). */
  cached: { kind: 'entry'; version: string; generation: string; payloadBytes: number } | { kind: 'marker'; floor: string } | { kind: 'none' };
  /** The key space's current generation as Redis holds it; undefined when Redis has none (nothing is readable). */
  currentGeneration?: string;
  /** The payload format whose releases read the entry (payload-generation.ts); undefined for none or no entry. */
  entryPayloadFormat?: number;
  /** The row's version in PostgreSQL; undefined when there is no row. */
  rowVersion?: string;
  verdict: Verdict;
  explanation: string;
}

export class UnknownResourceNameError extends Error {
  constructor(name: string) {
    super(`${JSON.stringify(name)} is not a settings resource name; expected one of: ${KNOWN_RESOURCE_PATTERNS.join(', ')}`);
    this.name = 'UnknownResourceNameError';
  }
}

/**
 * One resource as the cache and the database see it, read once each: the entry or marker, its
 * key space's generation, and the row's version. A write in flight between the reads can make
 * a fresh entry look stale for a moment; inspect again.
 */
export async function inspectResource(name: string, deps: { redis: Pick<CacheRedisClient, 'get' | 'getBuffer'>; rows: RowVersionSource }): Promise<Inspection> {
  const row = resolveResourceName(name);
  if (!row) throw new UnknownResourceNameError(name);
  const [raw, generation] = await Promise.all([deps.redis.getBuffer(row.key), deps.redis.get(generationKey(row.space))]);
  const value = parseCacheValue(raw);
  const rowVersion = (await deps.rows.versions(row.table, [row.ids])).get(row.key);
  const redisGeneration = generation === null ? undefined : BigInt(generation);
  // An entry is read by the releases whose payload format turns the space's generation into the
  // entry's (payload-generation.ts): during a rolling update, maybe not this one. Judged as they
  // serve it; an entry no format reads is of a retired generation.
  const ownFormat = PAYLOAD_FORMATS[row.space];
  const entryFormat = value?.kind === 'entry' && redisGeneration !== undefined ? payloadFormatOf(row.space, value.generation, redisGeneration) : undefined;
  const servedUnder = redisGeneration === undefined ? undefined : servedGeneration(row.space, entryFormat ?? ownFormat, redisGeneration);
  const judged = judge(value, servedUnder, rowVersion);
  const explanation =
    entryFormat !== undefined && entryFormat !== ownFormat
      ? `${judged.explanation}; an entry of payload format ${entryFormat}, read by the releases that write that format (this tool's release writes ${ownFormat}, for which it is a miss)`
      : judged.explanation;
  const verdict = judged.verdict;
  return {
    name,
    table: row.table.table,
    key: row.key,
    space: row.space,
    cached: describeCached(value),
    ...(redisGeneration === undefined ? {} : { currentGeneration: redisGeneration.toString() }),
    ...(entryFormat === undefined ? {} : { entryPayloadFormat: entryFormat }),
    ...(rowVersion === undefined ? {} : { rowVersion: rowVersion.toString() }),
    verdict,
    explanation,
  };
}

/**
 * What an entry behind its row means cannot be told from one look: the change's eviction may be
 * on its way (normal lag, or a backlog: a bulk change, a paused consumer) or lost. An operator
 * told "lost" during a backlog may empty the cache for nothing (the runbook's last step).
 */
const BEHIND = `either its eviction is still on its way (invalidator_consumer_lag_messages above 0: wait and inspect again) or it was lost (docs/operations.md#auditor-found-an-inconsistent-entry)`;

/** The verdict rules above; exported for the unit test of each case. */
export function judge(value: CacheValue | undefined, currentGeneration: bigint | undefined, rowVersion: bigint | undefined): { verdict: Verdict; explanation: string } {
  const row = rowVersion === undefined ? 'no row' : `row version ${rowVersion}`;
  if (value === undefined) return { verdict: 'missing', explanation: `no entry: the next read loads the row (${row})` };
  if (value.kind === 'marker') {
    return { verdict: 'marker', explanation: `evicted: fills below version ${value.floor} are refused, the next read loads the row (${row})` };
  }
  if (value.generation !== currentGeneration) {
    return { verdict: 'missing', explanation: `entry of generation ${value.generation}, not the current ${currentGeneration ?? '(none)'} (a TRUNCATE or renewal since): unreadable, a miss (${row})` };
  }
  // Version 0 is the settings service's cached absence (answered NOT_FOUND): no row is right.
  if (value.version === 0n) {
    return rowVersion === undefined
      ? { verdict: 'fresh', explanation: 'cached absence (version 0): reads answer NOT_FOUND without a PostgreSQL read, and there is no row' }
      : { verdict: 'stale', explanation: `cached absence (version 0) but the row exists at version ${rowVersion}: ${BEHIND}` };
  }
  if (rowVersion === undefined) return { verdict: 'stale', explanation: `entry at version ${value.version} but the row is gone: ${BEHIND}` };
  if (value.version === rowVersion) return { verdict: 'fresh', explanation: `entry at the row's version ${rowVersion}` };
  return value.version < rowVersion
    ? { verdict: 'stale', explanation: `entry at version ${value.version}, row at ${rowVersion}: ${BEHIND}` }
    : { verdict: 'stale', explanation: `entry at version ${value.version} is newer than the row (${rowVersion}): the database went back in time (docs/operations.md#restore-of-postgresql-or-a-cdc-gap)` };
}

function describeCached(value: CacheValue | undefined): Inspection['cached'] {
  if (value === undefined) return { kind: 'none' };
  if (value.kind === 'marker') return { kind: 'marker', floor: value.floor.toString() };
  return { kind: 'entry', version: value.version.toString(), generation: value.generation.toString(), payloadBytes: value.payload.length };
}

export function formatInspection(i: Inspection): string {
  const cached =
    i.cached.kind === 'entry' ? `entry version ${i.cached.version}, generation ${i.cached.generation} (${i.cached.payloadBytes} bytes)` : i.cached.kind === 'marker' ? `marker, floor ${i.cached.floor}` : 'nothing';
  return [
    `${i.name}: ${i.verdict.toUpperCase()}`,
    `  key          ${i.key}`,
    `  cached       ${cached}${i.entryPayloadFormat === undefined ? '' : `, payload format ${i.entryPayloadFormat}`}`,
    `  generation   ${i.currentGeneration ?? '(none)'} (key space ${i.space})`,
    `  row          ${i.rowVersion === undefined ? 'none' : `version ${i.rowVersion}`} (table ${i.table})`,
    `  ${i.explanation}`,
  ].join('\n');
}
