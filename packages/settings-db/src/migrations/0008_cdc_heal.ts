import type { Knex } from 'knex';

// Self-healing after a CDC gap (docs/operations.md#replication-slot-lost-or-recreated).
//
// debezium_signal: Debezium's source signalling channel (signal.data.collection). A row
//   INSERT INTO debezium_signal (id, type, data) VALUES ('<uuid>', 'execute-snapshot',
//     '{"data-collections": ["public.account_settings", ...], "type": "incremental"}')
// reaches the connector through the replication slot and starts an incremental snapshot: every
// row is re-emitted as a read event (op "r") with its current version, and the invalidator's
// version fence evicts only the entries older than their row. The table is in the publication.
//
// cdc_gap: one row per known gap in the change stream (connector offsets reset, replication slot
//   recreated or lost), written by whatever caused or saw it; the heal (@settings/shared healCdcGaps)
//   inserts one snapshot signal for all unhealed rows and marks them healed, in one statement.
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE debezium_signal (
      id text PRIMARY KEY,
      type text NOT NULL,
      data text
    );
    CREATE TABLE cdc_gap (
      id text PRIMARY KEY DEFAULT gen_random_uuid()::text,
      reason text NOT NULL,
      detected_at timestamptz NOT NULL DEFAULT now(),
      healed_at timestamptz,
      signal_id text
    );
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE cdc_gap; DROP TABLE debezium_signal');
}
