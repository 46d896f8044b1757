import { cachedTableNamed, type CachedTableDescriptor, type ChangeEvent, type KeySpace, type Row } from '@settings/shared';

/**
 * What one change event requires of the cache: markers (key → floor) and, for a TRUNCATE,
 * generation bumps. Pure; the Redis side is eviction-batcher + redis-evictor.
 */
export interface EvictionPlan {
  markers: Array<{ key: string; floor: bigint }>;
  generationBumps: KeySpace[];
}

export class UnplannableEventError extends Error {
  readonly code = 'EVENT_UNPLANNABLE';
  constructor(message: string) {
    super(message);
    this.name = 'UnplannableEventError';
  }
}

/**
 * A row's version: a positive integer. settings_version_seq starts at 1 and the trigger sets it
 * on every write, so a 0 never comes from a row: it is a decoding fault upstream (Debezium fills a
 * column missing from the tuple it decoded with its default; deploy/debezium/README.md has the
 * one case seen). As a floor it would fence nothing — the eviction would count as applied and the
 * entry stay stale — so such an event goes to the dead-letter topic, where it is counted and alerted on.
 */
function versionOf(row: Row, image: string): bigint {
  const v = row.version;
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 1) return BigInt(v);
  if (typeof v === 'string' && /^[1-9]\d*$/.test(v)) return BigInt(v);
  if (v === 0 || v === '0') throw new UnplannableEventError(`${image}.version is 0: no row has it (versions start at 1), so the change event was decoded wrongly upstream (is the publication sending fewer columns than Debezium expects?)`);
  // JSON numbers (and the scripts' Lua doubles) are exact only below 2^53: a floor rounded to a
  // neighbour could fence nothing (docs/operations.md, moving the version sequence).
  if (typeof v === 'number' && Number.isInteger(v) && v > Number.MAX_SAFE_INTEGER) throw new UnplannableEventError(`${image}.version ${v} is beyond 2^53, where change events and the cache scripts cannot compare versions exactly (was the version sequence moved that far?)`);
  throw new UnplannableEventError(`${image}.version is ${JSON.stringify(v)}, expected a positive integer`);
}

/**
 * - insert / snapshot read / update: every key of the new row, floor = new version; for an
 *   update, the old row's keys as well (a key column that changed must evict the old key).
 * - delete: every key of the old row, floor = old version + 1 (no fill of the deleted row
 *   may land; a re-created row gets a higher version from the sequence).
 * - truncate: bump the generation of each key space the table feeds.
 * Keys and key spaces come from the table's descriptor in the shared key map, the same one the
 * settings service reads and fills with.
 * Throws UnplannableEventError (→ dead-letter topic) for anything it cannot map exactly.
 */
export function planEvictions(event: ChangeEvent): EvictionPlan {
  const table = cachedTableNamed(event.source.table);
  if (!table) throw new UnplannableEventError(`table ${event.source.schema}.${event.source.table} is not in the key map`);
  if (event.op === 't') return { markers: [], generationBumps: [...table.keySpaces] };
  if (event.op === 'd') return { markers: markersOf(table, event.before!, versionOf(event.before!, 'before') + 1n), generationBumps: [] };
  const floor = versionOf(event.after!, 'after');
  const markers = markersOf(table, event.after!, floor);
  // The old row's keys under the same floor: usually the same keys, so only the ones not planned
  // yet are added.
  if (event.op === 'u' && event.before) {
    for (const m of markersOf(table, event.before, floor)) if (!markers.some((x) => x.key === m.key)) markers.push(m);
  }
  return { markers, generationBumps: [] };
}

/** Every key of `row` (its table's descriptor), each with `floor`. */
function markersOf(table: CachedTableDescriptor, row: Row, floor: bigint): Array<{ key: string; floor: bigint }> {
  try {
    return table.keysForRow(row).map((k) => ({ key: k.key, floor }));
  } catch (err) {
    throw new UnplannableEventError((err as Error).message);
  }
}
