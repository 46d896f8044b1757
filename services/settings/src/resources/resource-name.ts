import { ID_PATTERN, ID_SEGMENT } from '@settings/shared';
import type { Violations } from '../errors';

/** A resource's primary key by column, as parsed from its name; `account_id` is always one of them. */
export type ResourceKey<C extends string> = Readonly<Record<'account_id' | C, string>>;

/** An AIP-122 resource name pattern bound to key columns, e.g. `accounts/{account}/doctors/{doctor}/settings`. */
export interface ResourceName<K> {
  /** The pattern, for error messages. */
  readonly pattern: string;
  format(key: K): string;
  /** The key, or undefined when `name` does not match the pattern (ids checked against ID_PATTERN). */
  parse(name: string): K | undefined;
}

const VARIABLE = /\{([a-z]+)\}/g;

/**
 * Binds a name pattern to key columns: the variable `{x}` is the column `x_id`, in the order of
 * `keyColumns` (checked here, so a pattern that disagrees with its table fails at start-up, not
 * on the first request). Segments match the shared ID_PATTERN, so a parsed id can never forge a
 * cache key or another tenant's name.
 */
export function resourceName<C extends string>(pattern: string, keyColumns: readonly C[]): ResourceName<ResourceKey<C>> {
  const variables = [...pattern.matchAll(VARIABLE)].map((m) => `${m[1]}_id`);
  if (variables.join() !== keyColumns.join()) throw new Error(`name pattern ${pattern} does not name the key columns ${keyColumns.join(', ')}`);
  const literals = pattern.split(VARIABLE).filter((_, i) => i % 2 === 0);
  const regex = new RegExp(`^${literals.map(escapeRegExp).join(`(${ID_SEGMENT})`)}$`);
  return {
    pattern,
    format: (key) => literals.map((literal, i) => literal + (i < keyColumns.length ? key[keyColumns[i]!] : '')).join(''),
    parse(name) {
      const m = regex.exec(name);
      if (!m) return undefined;
      // A loop, not Object.fromEntries(map(...)): every Get parses a name.
      const key: Partial<Record<C, string>> = {};
      for (let i = 0; i < keyColumns.length; i++) key[keyColumns[i]!] = m[i + 1]!;
      return key as ResourceKey<C>;
    },
  };
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Parses `value`, recording a violation on `field` when it is empty or malformed. */
export function parseName<K>(name: ResourceName<K>, value: string, field: string, violations: Violations): K | undefined {
  if (value === '') {
    violations.add(field, `required: ${name.pattern}`);
    return undefined;
  }
  const parsed = name.parse(value);
  if (!parsed) violations.add(field, `must be ${name.pattern}, ids matching ${ID_PATTERN.source}`);
  return parsed;
}
