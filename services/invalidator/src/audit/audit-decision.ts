import type { CacheValue } from '@settings/shared';

/**
 * The auditor's definition of an inconsistent entry, as pure functions (README: "Staleness
 * auditor"). A sample says: entry `key` was served at version S. At T1 >= servedAt + SLO the
 * row is read from PostgreSQL; every version visible then was committed before T1.
 *
 *  - The row has version R <= S: the served value was current. Consistent.
 *  - The row is gone and S is 0: the sample is a cached absence (the read path's version-0
 *    entry, answered NOT_FOUND) and no row is what it said. Consistent.
 *  - The row has R > S, or is gone: the entry is superseded below `floor` (R, or S + 1 for a
 *    deleted row). For a cached absence (S = 0) a row of any version supersedes it. If the cache no longer holds an entry below `floor` under the current
 *    generation (a marker, a newer entry, nothing, another generation), the invalidation
 *    landed: consistent. Otherwise the key is a suspect, re-read at T2 = T1 + SLO.
 *  - At T2 the cache still holds an entry below `floor` under the current generation: a change
 *    committed before T1 has not reached the cache for at least one SLO. Inconsistent; the entry
 *    is fenced with a marker at `floor`.
 *
 * Normal invalidation lag (<= SLO) therefore never counts: it is either over by T1 or by T2.
 */
export function supersededFloor(servedVersion: bigint, rowVersion: bigint | undefined): bigint | undefined {
  if (rowVersion === undefined) return servedVersion === 0n ? undefined : servedVersion + 1n;
  return rowVersion > servedVersion ? rowVersion : undefined;
}

/**
 * True when `value` is an entry the read path would serve (current generation) older than `floor`.
 * `rowGone`: the row was found deleted. A cached absence (version 0) is then what the row is, not
 * stale: after the deletion's marker expired (CACHE_MARKER_TTL_SECONDS) a read caches one, and a
 * sample audited that late (a backlog after an outage) must not count it, nor fence it.
 */
export function servesBelow(value: CacheValue | undefined, currentGeneration: bigint | undefined, floor: bigint, rowGone = false): boolean {
  if (value?.kind !== 'entry' || currentGeneration === undefined || value.generation !== currentGeneration) return false;
  if (rowGone && value.version === 0n) return false;
  return value.version < floor;
}
