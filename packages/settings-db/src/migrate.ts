import type { Knex } from 'knex';
import { SettingsMigrationSource } from './migrations';

// Any fixed key works; it must be the same in every replica and unused by other lock users.
const MIGRATION_ADVISORY_LOCK = 0x5e77_1265;

/**
 * Applies all pending migrations, in one transaction.
 *
 * Replicas may call this concurrently at start-up. knex's own lock table is not enough for that:
 * on an empty database concurrent runners race to create knex_migrations and all but one fail
 * (and two runners can each insert a lock row, which makes every later run fail with "Migration
 * table is already locked"). So runners first queue on a Postgres advisory lock, held by a
 * transaction on a second pool connection and released automatically if the process dies.
 * Needs a knex pool with at least 2 connections.
 */
export async function migrateLatest(knex: Knex): Promise<void> {
  await knex.transaction(async (lockTrx) => {
    await lockTrx.raw('SELECT pg_advisory_xact_lock(?)', [MIGRATION_ADVISORY_LOCK]);
    await knex.migrate.latest({ migrationSource: new SettingsMigrationSource() });
  });
}
