import type { Knex } from 'knex';

// Append-only history of grant changes, written by the service in the same transaction as the
// change (it knows the actor from the caller's token). before/after are the StaffPermission rows
// as JSON; before is NULL for 'create', after is NULL for 'delete'. Not cached, so no version
// trigger and no replica identity change.
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE staff_permission_audit (
      id bigserial PRIMARY KEY,
      account_id text NOT NULL,
      staff_id text NOT NULL,
      actor text NOT NULL,
      action text NOT NULL CHECK (action IN ('create', 'update', 'delete')),
      before jsonb,
      after jsonb,
      at timestamptz NOT NULL DEFAULT now()
    );

    -- "Who changed this grant, and when" is the question audits get asked.
    CREATE INDEX staff_permission_audit_by_grant ON staff_permission_audit (account_id, staff_id, at);
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE staff_permission_audit');
}
