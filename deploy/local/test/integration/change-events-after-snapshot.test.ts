import { SETTINGS_TABLES, changeTopic, localStack } from '@settings/shared';
import { ChangeTopicReader, pgQuery, uniqueId } from '../../src';

/**
 * The invalidator's fences need each change event's key and `version`, including right after
 * an incremental snapshot — the heal of a CDC gap (docs/operations.md#replication-slot-lost-or-recreated).
 *
 * Why the cached tables are published whole, although a publication column list (key columns +
 * version over a (key, version) replica-identity index) cut Kafka Connect's CPU per event by a
 * quarter: Debezium 3.6 decodes a pgoutput tuple by position against its model of the table, and
 * an incremental snapshot rebuilds that model from the database with every column. From then on a
 * three-column tuple of (account_id, doctor_id, version) is read as (account_id, doctor_id,
 * display_name), and every event says version 0 — no error, no dead letter, no eviction fence.
 * Measured and reproduced on this stack (deploy/debezium/README.md); these tests fail that way.
 */
describe('change events keep their key and version, also after an incremental snapshot', () => {
  it.each(SETTINGS_TABLES.map((t) => [t.table] as const))('%s is published whole: no column list', async (name) => {
    const [row] = await pgQuery(
      localStack.database,
      `SELECT cardinality(p.attnames) AS published,
              (SELECT count(*)::int FROM pg_attribute a WHERE a.attrelid = format('public.%I', $1::text)::regclass AND a.attnum > 0 AND NOT a.attisdropped) AS columns
       FROM pg_publication_tables p WHERE p.pubname = 'settings_cache_pub' AND p.schemaname = 'public' AND p.tablename = $1`,
      [name],
    );
    expect(row).toBeDefined();
    expect(row!.published).toBe(row!.columns);
  });

  describe('a doctor row changed in psql after an incremental snapshot of its table', () => {
    const reader = new ChangeTopicReader(changeTopic(localStack.topicPrefix, 'doctor_settings'));
    const account = uniqueId();
    type Envelope = { op: string; before: Record<string, unknown> | null; after: Record<string, unknown> | null };
    const mine = (v: unknown): v is Envelope => (v as Envelope | null)?.after?.account_id === account || (v as Envelope | null)?.before?.account_id === account;
    let version = 0;

    beforeAll(async () => {
      await reader.start();
      const [row] = await pgQuery(localStack.database, "INSERT INTO doctor_settings (account_id, doctor_id) VALUES ($1, 'd1') RETURNING version", [account]);
      version = Number(row!.version);
      await reader.waitFor((v) => mine(v) && v.op === 'c', 15_000);
      // The heal's signal, for this one table: the snapshot re-reads the table's model, then emits
      // a read event (op "r") for every row it selects. Only this test's row: a whole-table
      // snapshot outlived this file and sent read events of other tests' rows into the files
      // after it. The model is re-read all the same: Debezium's PostgreSQL incremental snapshot
      // refreshes a table's schema before the table's snapshot starts, whatever the filter.
      await pgQuery(localStack.database, "INSERT INTO debezium_signal (id, type, data) VALUES ($1, 'execute-snapshot', $2)", [
        uniqueId('test-snapshot-'),
        JSON.stringify({
          'data-collections': ['public.doctor_settings'],
          type: 'incremental',
          'additional-conditions': [{ 'data-collection': 'public.doctor_settings', filter: `account_id = '${account}'` }],
        }),
      ]);
      const { value } = await reader.waitFor((v) => mine(v) && v.op === 'r', 30_000);
      expect((value as Envelope).after).toEqual({ account_id: account, doctor_id: 'd1', version });
    }, 60_000);
    afterAll(async () => {
      await reader.stop();
      await pgQuery(localStack.database, 'DELETE FROM doctor_settings WHERE account_id = $1', [account]);
    });

    it('an UPDATE carries the old key and version in before and the new ones in after', async () => {
      const [updated] = await pgQuery(localStack.database, "UPDATE doctor_settings SET display_name = 'Dr. New' WHERE account_id = $1 AND doctor_id = 'd1' RETURNING version", [account]);
      const { value } = await reader.waitFor((v) => mine(v) && v.op === 'u', 15_000);
      const ev = value as Envelope;
      expect(ev.before).toEqual({ account_id: account, doctor_id: 'd1', version });
      expect(ev.after).toEqual({ account_id: account, doctor_id: 'd1', version: Number(updated!.version) });
      version = Number(updated!.version);
    });

    it('a DELETE carries the deleted row’s key and version (the eviction floor is version + 1)', async () => {
      await pgQuery(localStack.database, "DELETE FROM doctor_settings WHERE account_id = $1 AND doctor_id = 'd1'", [account]);
      const { value } = await reader.waitFor((v) => mine(v) && v.op === 'd', 15_000);
      expect((value as Envelope).before).toEqual({ account_id: account, doctor_id: 'd1', version });
    });
  });
});
