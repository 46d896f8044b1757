import type { Knex } from 'knex';

/**
 * The tables of `publication` missing from `required` (schema-qualified names, e.g.
 * `public.account_settings`); every one of them when the publication does not exist.
 *
 * Why the migration Job asks: the connector runs with `publication.autocreate.mode=filtered`
 * and a replication user that owns no table, so a publication without a table of its
 * `table.include.list` makes it try `ALTER PUBLICATION`, fail, and stay FAILED. The DBA creates
 * the publication with `deploy/postgres/bootstrap.sql`, which can only list tables that exist,
 * so after a migration that creates one it must run again before the connector is applied.
 */
export async function missingFromPublication(knex: Knex, publication: string, required: readonly string[]): Promise<string[]> {
  const rows = await knex.raw<{ rows: Array<{ name: string }> }>(`SELECT schemaname || '.' || tablename AS name FROM pg_publication_tables WHERE pubname = ?`, [publication]);
  const published = new Set(rows.rows.map((r) => r.name));
  return required.filter((t) => !published.has(t));
}
