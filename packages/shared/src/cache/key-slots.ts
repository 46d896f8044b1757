import calculateSlot from 'cluster-key-slot';

/**
 * Redis Cluster hash slots (CRC16 of the key's `{hash tag}`, mod 16384), from the library ioredis
 * itself routes with. On a cluster a command or script may only name keys of one slot; the key
 * map puts every key of an account in one slot (`{acct:<id>}`), so grouping by slot costs a
 * reader of one account nothing and splits the invalidator's multi-account batches.
 */
export function keySlot(key: string): number {
  return calculateSlot(key);
}

/** `items` grouped by the slot of `keyOf(item)`, keeping their order within each group. */
export function groupBySlot<T>(items: readonly T[], keyOf: (item: T) => string): T[][] {
  const groups = new Map<number, T[]>();
  for (const item of items) {
    const slot = calculateSlot(keyOf(item));
    const group = groups.get(slot);
    if (group) group.push(item);
    else groups.set(slot, [item]);
  }
  return [...groups.values()];
}

const tagBySlot = new Map<number, string>();

/**
 * A hash tag whose keys land in `slot` (`{<tag>}`), for a key that must live on one given node
 * (the invalidator's per-master health probe). Found by counting up, ~16k CRC16s the first time.
 */
export function hashTagForSlot(slot: number): string {
  if (!Number.isInteger(slot) || slot < 0 || slot > 16383) throw new Error(`not a cluster slot: ${slot}`);
  let tag = tagBySlot.get(slot);
  for (let n = 0; tag === undefined; n++) {
    const candidate = `s${n}`;
    const s = calculateSlot(candidate);
    if (!tagBySlot.has(s)) tagBySlot.set(s, candidate);
    if (s === slot) tag = candidate;
  }
  return tag;
}
