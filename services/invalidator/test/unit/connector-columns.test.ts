import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CACHED_TABLES, cachedTableNamed } from '@settings/shared';

/**
 * Debezium sends only the columns the invalidator needs (column.include.list in
 * deploy/debezium/settings-connector.json). A key column missing there would make every event of
 * that table unplannable (dead letters, no eviction): the list must cover the key map.
 */
const connector = JSON.parse(readFileSync(join(__dirname, '../../../../deploy/debezium/settings-connector.json'), 'utf8')) as { config: Record<string, string> };
const patterns = connector.config['column.include.list']!.split(',').map((p) => new RegExp(`^${p}$`));
const included = (column: string): boolean => patterns.some((p) => p.test(column));

describe('column.include.list', () => {
  it.each(CACHED_TABLES.map((t) => [t]))('%s: every key column and version are sent', (table) => {
    for (const column of [...cachedTableNamed(table)!.keyColumns, 'version']) expect([column, included(`public.${table}.${column}`)]).toEqual([column, true]);
    // And nothing else: the point of the list is small events.
    expect(included(`public.${table}.display_name`)).toBe(false);
  });

  it('the heartbeat and signal tables are sent whole (drain sentinels, incremental-snapshot signals)', () => {
    for (const column of ['public.debezium_heartbeat.id', 'public.debezium_heartbeat.ts', 'public.debezium_signal.id', 'public.debezium_signal.type', 'public.debezium_signal.data']) expect([column, included(column)]).toEqual([column, true]);
  });
});
