import { CDC_SNAPSHOT_COLLECTIONS, healCdcGaps, snapshotSignalData, type SqlRunner } from '@settings/shared';
import { CACHED_TABLES } from '@settings/shared';
import { connectorFile } from '../../src/kafka-connect';

// The CDC gap heal (packages/shared/src/debezium/cdc-gap.ts) snapshots exactly the tables the cache is filled
// from, through the signal table the connector is configured with.

test('the snapshot covers exactly the key map’s tables, all of them captured by the connector', () => {
  expect([...CDC_SNAPSHOT_COLLECTIONS].sort()).toEqual(CACHED_TABLES.map((t) => `public.${t}`).sort());
  const { config } = connectorFile();
  const included = config['table.include.list']!.split(',').map((t) => t.trim());
  for (const c of CDC_SNAPSHOT_COLLECTIONS) expect(included).toContain(c);
  expect(config['signal.enabled.channels']).toBe('source');
  expect(included).toContain(config['signal.data.collection']);
});

test('the signal is an incremental execute-snapshot of the cached tables', () => {
  expect(JSON.parse(snapshotSignalData())).toEqual({ 'data-collections': [...CDC_SNAPSHOT_COLLECTIONS], type: 'incremental' });
});

test('one statement marks the gaps healed and signals only when there was one', async () => {
  const calls: Array<{ sql: string; params?: unknown[] }> = [];
  let rows: Array<Record<string, unknown>> = [];
  const sql: SqlRunner = async (text, params) => {
    calls.push({ sql: text, params });
    return rows;
  };
  expect(await healCdcGaps(sql)).toEqual({ gaps: [] });
  rows = [{ reason: 'offsets reset', signalled: 1 }];
  const healed = await healCdcGaps(sql);
  expect(healed.gaps).toEqual(['offsets reset']);
  expect(healed.signalId).toBe(calls[1]!.params![0]);
  expect(calls[1]!.sql).toMatch(/UPDATE cdc_gap SET healed_at = now\(\)[\s\S]*INSERT INTO debezium_signal[\s\S]*'execute-snapshot'[\s\S]*WHERE EXISTS \(SELECT FROM pending\)/);
});
