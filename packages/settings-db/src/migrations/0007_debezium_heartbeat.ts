import type { Knex } from 'knex';

// Debezium's heartbeat.action.query upserts here, e.g.
//   INSERT INTO debezium_heartbeat (id, ts) VALUES (1, now())
//   ON CONFLICT (id) DO UPDATE SET ts = EXCLUDED.ts
// The write goes through the replication slot, so the slot's confirmed position keeps moving (and
// Postgres can recycle WAL) while the settings tables are quiet, and the invalidator can tell
// "no changes" from "stream stalled".
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE debezium_heartbeat (
      id integer PRIMARY KEY,
      ts timestamptz NOT NULL DEFAULT now()
    );
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE debezium_heartbeat');
}
