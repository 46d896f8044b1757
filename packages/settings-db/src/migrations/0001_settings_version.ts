import type { Knex } from 'knex';

// One sequence for every cached table, so a version also orders changes across tables and can
// serve as a consistency token. Default CACHE 1: with per-session caching, a later nextval()
// in another session could return a smaller number.
//
// The versioning lives in a trigger rather than in the service so writes from psql, backfills
// and later migrations also get a fresh version and can never be hidden by a stale cache entry.
// A row's version is drawn while its row lock is held, so versions of one row follow commit order.
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE SEQUENCE settings_version_seq AS bigint;

    CREATE FUNCTION settings_set_version() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
      NEW.version := nextval('settings_version_seq');
      NEW.update_time := now();
      RETURN NEW;
    END
    $$;
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    DROP FUNCTION settings_set_version();
    DROP SEQUENCE settings_version_seq;
  `);
}
