import type { Knex } from 'knex';
import type { Row } from '../resources/resource';
import type { StaffKey } from '../resources/staff-permissions/staff-permission';

export type AuditAction = 'create' | 'update' | 'delete';

export interface AuditEntry {
  key: StaffKey;
  /** The authenticated principal (`sub` of the caller's token). */
  actor: string;
  action: AuditAction;
  before: Row | undefined;
  after: Row | undefined;
}

/** Appends to staff_permission_audit inside the caller's transaction: no change without its record. */
export async function insertAudit(trx: Knex.Transaction, e: AuditEntry): Promise<void> {
  await trx('staff_permission_audit').insert({
    account_id: e.key.account_id,
    staff_id: e.key.staff_id,
    actor: e.actor,
    action: e.action,
    // Explicit JSON: node-postgres would send a JS array as a Postgres array, not jsonb.
    before: e.before ? JSON.stringify(e.before) : null,
    after: e.after ? JSON.stringify(e.after) : null,
  });
}
