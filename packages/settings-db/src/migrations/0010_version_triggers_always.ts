import type { Knex } from 'knex';

// The triggers that give every change of a cached row a new version (and touch the grant lists)
// fire ALWAYS, also when session_replication_role = replica: what `pg_restore
// --disable-triggers`-style loaders, DMS full loads and logical-replication apply workers use.
// As plain (ORIGIN) triggers they did not fire there, so a row changed in that mode kept its
// version; Debezium still published the change, and the invalidator's marker at that same
// version fenced nothing (the cached entry was already at it): a revoked grant stayed cached as
// active, and a deleted one listed, until the entry TTL, with the staleness auditor, which
// compares versions, seeing "consistent". `ALTER TABLE ... DISABLE TRIGGER` still turns one off,
// deliberately (the chaos suite's simulated restore does, in its own transaction).
const TRIGGERS: ReadonlyArray<readonly [table: string, trigger: string]> = [
  ['account_settings', 'account_settings_set_version'],
  ['doctor_settings', 'doctor_settings_set_version'],
  ['onpatient_settings', 'onpatient_settings_set_version'],
  ['staff_permissions', 'staff_permissions_set_version'],
  ['staff_permission_lists', 'staff_permission_lists_set_version'],
  ['staff_permissions', 'staff_permissions_touch_list'],
  ['staff_permissions', 'staff_permissions_truncate_touch_lists'],
];

export async function up(knex: Knex): Promise<void> {
  await knex.raw(TRIGGERS.map(([table, trigger]) => `ALTER TABLE ${table} ENABLE ALWAYS TRIGGER ${trigger};`).join('\n'));
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(TRIGGERS.map(([table, trigger]) => `ALTER TABLE ${table} ENABLE TRIGGER ${trigger};`).join('\n'));
}
