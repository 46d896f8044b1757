import { SETTINGS_TABLES, type SettingsTable } from '@settings/shared';

/**
 * The API's resource names (AIP-122) of the cached tables, from the shared table descriptors
 * (`namePattern`), the same ones the settings service parses request names with.
 */
const RESOURCE_PATTERNS: ReadonlyArray<{ pattern: string; table: SettingsTable }> = SETTINGS_TABLES.map((table) => ({ pattern: table.namePattern, table }));

export const KNOWN_RESOURCE_PATTERNS: readonly string[] = RESOURCE_PATTERNS.map((p) => p.pattern);

export interface NamedRow {
  readonly table: SettingsTable;
  /** Key column → id, e.g. { account_id: 'acme', doctor_id: 'd1' }. */
  readonly ids: Readonly<Record<string, string>>;
  readonly key: string;
  readonly space: SettingsTable['space'];
}

/**
 * The table, key columns and cache key of a resource name; undefined when it matches no pattern.
 * An id outside ID_PATTERN throws the descriptor's InvalidIdError (it could never be a key).
 */
export function resolveResourceName(name: string): NamedRow | undefined {
  const segments = name.split('/');
  for (const { pattern, table } of RESOURCE_PATTERNS) {
    const parts = pattern.split('/');
    if (parts.length !== segments.length) continue;
    const ids: Record<string, string> = {};
    const matches = parts.every((part, i) => {
      const variable = /^\{(\w+)\}$/.exec(part);
      if (variable) ids[`${variable[1]}_id`] = segments[i]!;
      return variable !== null || part === segments[i];
    });
    if (!matches) continue;
    const { key, space } = table.key(ids as never /* exactly the table's key columns, by the pattern */);
    return { table, ids, key, space };
  }
  return undefined;
}
