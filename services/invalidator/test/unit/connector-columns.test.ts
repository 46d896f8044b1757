import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CACHED_TABLES, cachedTableNamed, changeTopic, decodeChangeEvent } from '@settings/shared';

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

/**
 * The optional lean transforms (deploy/debezium/lean-transforms.json, measured by the bench's
 * event-format scenario): the cached tables' events flattened and cut to what the invalidator
 * reads (Connect's `Flatten` + `ReplaceField` include list, applied by a topic predicate). A key
 * column or `version` missing from the include list would make every event of that table
 * unplannable; a cached table missing from the predicate would only be larger (nested).
 */
describe('the lean change-event transforms', () => {
  const config: Record<string, string> = {
    ...connector.config,
    ...(JSON.parse(readFileSync(join(__dirname, '../../../../deploy/debezium/lean-transforms.json'), 'utf8')) as Record<string, string>),
  };
  const kept = new Set(config['transforms.lean.include']!.split(','));
  const predicate = new RegExp(`^(?:${config['predicates.cachedTables.pattern']!})$`);

  it('flatten then cut, both only on the cached tables\' topics, with the "." delimiter the decoder reads', () => {
    expect(config.transforms).toBe('flatten,lean');
    expect(config['transforms.flatten.type']).toBe('org.apache.kafka.connect.transforms.Flatten$Value');
    expect(config['transforms.flatten.delimiter']).toBe('.');
    expect(config['transforms.lean.type']).toBe('org.apache.kafka.connect.transforms.ReplaceField$Value');
    expect([config['transforms.flatten.predicate'], config['transforms.lean.predicate']]).toEqual(['cachedTables', 'cachedTables']);
    expect(config['predicates.cachedTables.type']).toBe('org.apache.kafka.connect.transforms.predicates.TopicNameMatches');
  });

  it.each(CACHED_TABLES.map((t) => [t]))('%s: its topic is transformed, and its key columns and version are kept in before and after', (table) => {
    expect(predicate.test(changeTopic(config['topic.prefix']!, table))).toBe(true);
    for (const column of [...cachedTableNamed(table)!.keyColumns, 'version']) {
      for (const side of ['before', 'after']) expect([`${side}.${column}`, kept.has(`${side}.${column}`)]).toEqual([`${side}.${column}`, true]);
    }
  });

  it('keeps what the decoder validates: op, ts_ms and the source schema, table and commit time', () => {
    for (const field of ['op', 'ts_ms', 'source.ts_ms', 'source.schema', 'source.table']) expect([field, kept.has(field)]).toEqual([field, true]);
  });

  it('leaves the heartbeat and signal tables nested and whole (drain sentinels, incremental-snapshot signals)', () => {
    for (const table of ['debezium_heartbeat', 'debezium_signal']) expect(predicate.test(changeTopic(config['topic.prefix']!, table))).toBe(false);
  });

  it('an event cut to the include list decodes to the same key columns and version as the nested one', () => {
    const nested = { before: { account_id: 'a1', doctor_id: 'd1', version: 4 }, after: { account_id: 'a1', doctor_id: 'd1', version: 5 }, source: { schema: 'public', table: 'doctor_settings', ts_ms: 1, lsn: 9 }, op: 'u', ts_ms: 2 };
    const flat: Record<string, unknown> = { op: 'u', ts_ms: 2, 'source.ts_ms': 1, 'source.schema': 'public', 'source.table': 'doctor_settings', 'source.lsn': 9 };
    for (const side of ['before', 'after'] as const) for (const [c, v] of Object.entries(nested[side])) flat[`${side}.${c}`] = v;
    const cut = Object.fromEntries(Object.entries(flat).filter(([name]) => kept.has(name)));
    const fromCut = decodeChangeEvent(Buffer.from(JSON.stringify(cut)));
    const fromNested = decodeChangeEvent(Buffer.from(JSON.stringify(nested)));
    expect(fromCut.kind).toBe('change');
    if (fromCut.kind !== 'change' || fromNested.kind !== 'change') return;
    expect([fromCut.event.before, fromCut.event.after, fromCut.event.op]).toEqual([fromNested.event.before, fromNested.event.after, fromNested.event.op]);
  });
});
