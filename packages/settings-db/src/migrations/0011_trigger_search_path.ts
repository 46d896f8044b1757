import type { Knex } from 'knex';

// The version and grant-list trigger functions name the sequence and tables without a schema,
// and resolved them through the caller's search_path: a session with an empty one (PostgreSQL's
// logical-replication apply workers, some restore tools) failed every change with "relation
// settings_version_seq does not exist", and a temporary sequence or table of the same name (the
// temporary schema is searched first) shadowed ours for that session. Each function now runs
// with its own search_path, the temporary schema last.
const FUNCTIONS = ['settings_set_version()', 'staff_permission_lists_touch(text)', 'staff_permissions_touch_list()', 'staff_permissions_truncate_touch_lists()'];

export async function up(knex: Knex): Promise<void> {
  await knex.raw(FUNCTIONS.map((f) => `ALTER FUNCTION ${f} SET search_path = pg_catalog, public, pg_temp;`).join('\n'));
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(FUNCTIONS.map((f) => `ALTER FUNCTION ${f} RESET search_path;`).join('\n'));
}
