/** A grant as a list entry: its resource name and its version (the etag). */
export interface Grant {
  readonly name: string;
  readonly etag: string;
}

export interface GrantChanges<G extends Grant> {
  /** Grants that are new, or whose etag changed (the whole grant, as it is now). */
  readonly upserted: G[];
  /** Names of grants that are gone. */
  readonly deleted: string[];
}

/**
 * What changed between two whole lists of an account's grants: the per-grant creates, updates and
 * deletes a staff-permission watcher receives. Two lists with the same names and etags are the
 * same list (an etag is the grant's row version, bumped by every change of the row).
 */
export function grantChanges<G extends Grant>(before: readonly G[], after: readonly G[]): GrantChanges<G> {
  const old = new Map(before.map((g) => [g.name, g.etag]));
  const now = new Set(after.map((g) => g.name));
  return {
    upserted: after.filter((g) => old.get(g.name) !== g.etag),
    deleted: before.filter((g) => !now.has(g.name)).map((g) => g.name),
  };
}
