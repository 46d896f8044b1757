import { echo, type Violations } from '../errors';

/**
 * One writable leaf field of a resource: its proto path (snake_case, as in FieldMask), its
 * column, how to read it from a message and how to check it. Nested messages are flattened,
 * so a mask path naming a message (`appointment_defaults`) means all of its leaves. The same
 * spec maps the column back into the message (row-mapping.ts), so a column is named once.
 */
export interface FieldSpec<M> {
  readonly path: string;
  readonly column: string;
  get(message: M): unknown;
  /** Problem description (or several, with sub-paths such as `[2].start_time`); undefined when acceptable. */
  check(value: unknown): string | readonly FieldProblem[] | undefined;
  /** Column value (normalised); defaults to the value itself. Must read back as proto3 JSON (enum names, JSON for jsonb). */
  toColumn?(value: unknown): unknown;
}

export interface FieldProblem {
  readonly subpath: string;
  readonly description: string;
}

/** More paths than any resource has fields (nested messages included) is a malformed mask. */
export const MAX_MASK_PATHS = 100;

/**
 * Paths callers may name but that are not written (identifier and output-only fields, AIP-203)
 * on every resource; a resource adds its own (SettingsResource.outputOnly: a grant's
 * `create_time`). A path a resource does not have is an unknown path, not an ignored one.
 */
export const COMMON_OUTPUT_ONLY_PATHS: readonly string[] = ['name', 'etag', 'consistency_token', 'update_time'];

/** AIP-134: default values are not "populated", so an implied mask cannot clear a field. */
export function isPopulated(value: unknown): boolean {
  if (Array.isArray(value)) return value.length > 0;
  return value !== '' && value !== 0 && value !== false && value !== undefined && value !== null;
}

/**
 * The fields an update writes. No mask (or an empty one): every populated field. `*`: every
 * field. Otherwise the named paths; unknown paths are violations on `update_mask.paths[i]`.
 */
export function resolveMask<M>(specs: readonly FieldSpec<M>[], mask: readonly string[] | undefined, message: M, violations: Violations, outputOnly: readonly string[] = COMMON_OUTPUT_ONLY_PATHS): FieldSpec<M>[] {
  if (!mask || mask.length === 0) return specs.filter((s) => isPopulated(s.get(message)));
  // The length first: 100,000 unknown paths are one problem, not 100,000.
  if (mask.length > MAX_MASK_PATHS) {
    violations.add('update_mask.paths', `at most ${MAX_MASK_PATHS} paths`);
    return [];
  }
  if (mask.includes('*')) {
    if (mask.length > 1) violations.add('update_mask.paths', '"*" must be the only path');
    return [...specs];
  }
  const chosen = new Set<FieldSpec<M>>();
  mask.forEach((path, i) => {
    if (outputOnly.includes(path)) return;
    const matches = specs.filter((s) => s.path === path || s.path.startsWith(`${path}.`));
    if (matches.length === 0) violations.add(`update_mask.paths[${i}]`, `unknown or read-only field path "${echo(path)}"`);
    for (const s of matches) chosen.add(s);
  });
  return specs.filter((s) => chosen.has(s));
}

/** Checks the chosen fields and returns their column values. */
export function columnChanges<M>(chosen: readonly FieldSpec<M>[], message: M, fieldPrefix: string, violations: Violations): Record<string, unknown> {
  const changes: Record<string, unknown> = {};
  for (const spec of chosen) {
    const value = spec.get(message);
    const problem = spec.check(value);
    if (typeof problem === 'string') violations.add(`${fieldPrefix}.${spec.path}`, problem);
    else if (problem && problem.length > 0) for (const p of problem) violations.add(`${fieldPrefix}.${spec.path}${p.subpath}`, p.description);
    else changes[spec.column] = spec.toColumn ? spec.toColumn(value) : value;
  }
  return changes;
}
