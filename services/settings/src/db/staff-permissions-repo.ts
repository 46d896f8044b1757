import type { Knex } from 'knex';
import type { StaffPermission } from '@settings/api';
import { staffPermissionListsTable } from '@settings/shared';
import { SettingsError } from '../errors';
import type { AccountKey } from '../resources/account';
import type { Row } from '../resources/resource';
import { loadedFromRow, rowVersion, type TokenIssuer } from '../resources/row-mapping';
import { staffPermission, type StaffKey } from '../resources/staff-permissions/staff-permission';
import type { StaffList } from '../resources/staff-permissions/staff-permission-list';
import type { Db } from './db';
import { ResourceRepo } from './resource-repo';
import { checkEtag, lockRow, withCappedLockWait, type RowLockWaits } from './row-lock';
import { insertAudit } from './staff-permission-audit-repo';

const TABLE = staffPermission.table.table;
const WRITE = `${TABLE}.write`;

export interface StaffWriteResult {
  /** The grant after the write (for a delete: as it was before). */
  readonly permission: StaffPermission;
  readonly rowVersion: bigint;
  readonly listVersion: bigint;
}

/** Column values of a grant's writable fields, already checked (see staff-permissions/fields.ts). */
export type StaffFields = Record<string, unknown>;

/** Grants: read like any resource, plus the account's list, and writes that keep an audit trail. */
export class StaffPermissionsRepo extends ResourceRepo<'account_id' | 'staff_id', StaffPermission> {
  constructor(db: Db, tokens: TokenIssuer) {
    super(db, staffPermission, tokens);
  }

  /**
   * The first `cap` grants of an account and the list version, in one statement (one snapshot).
   * Ordered by staff id in byte order (`COLLATE "C"`), here and in `loadPage`: the List handler
   * pages a cached list by comparing ids in JavaScript, which is byte order for the ASCII ids
   * names allow. Under the database's collation (en_US.UTF-8 on many managed servers, where
   * `-` and `_` sort before digits) the two orders differed and paging skipped grants.
   */
  readonly loadList = async (account: AccountKey, cap: number, deadline: number): Promise<StaffList> => {
    const result = await this.db.read<{ rows: Row[] }>('staff_permission_list.read', deadline, (k) =>
      k.raw(
        `SELECT l.version AS list_version, sp.*
           FROM (SELECT CAST(? AS text) AS account_id) a
           LEFT JOIN staff_permission_lists l ON l.account_id = a.account_id
           LEFT JOIN LATERAL (
             SELECT * FROM staff_permissions s WHERE s.account_id = a.account_id ORDER BY s.staff_id COLLATE "C" LIMIT ?
           ) sp ON true
          ORDER BY sp.staff_id COLLATE "C"`,
        [account.account_id, cap + 1],
      ),
    );
    const rows = result.rows;
    const listVersion = rows[0]?.list_version == null ? 0n : BigInt(rows[0].list_version as string);
    const grants = rows.filter((r) => r.staff_id != null);
    return { listVersion, items: grants.slice(0, cap).map((r) => loadedFromRow(staffPermission, r, this.tokens).value), truncated: grants.length > cap };
  };

  /** One page straight from PostgreSQL, for lists too long to cache. */
  async loadPage(account: AccountKey, afterStaffId: string | undefined, limit: number, deadline: number): Promise<StaffPermission[]> {
    const rows = await this.db.read<Row[]>('staff_permission_page.read', deadline, (k) => {
      const q = k(TABLE).where(account).orderByRaw('staff_id COLLATE "C"').limit(limit);
      return afterStaffId === undefined ? q : q.andWhereRaw('staff_id COLLATE "C" > ?', [afterStaffId]);
    });
    return rows.map((r) => loadedFromRow(staffPermission, r, this.tokens).value);
  }

  async create(key: StaffKey, fields: StaffFields, actor: string, deadline: number): Promise<StaffWriteResult> {
    return this.db.write(WRITE, deadline, async (trx, waits) => {
      await lockList(trx, key, waits);
      // The insert may wait for the same grant another transaction is inserting, and its trigger
      // for the account's list row (when the account has none yet, one it is inserting): capped.
      const [row] = await withCappedLockWait(trx, waits, () => trx(TABLE).insert({ ...fields, ...key }).onConflict([...staffPermission.table.keyColumns]).ignore().returning('*') as PromiseLike<Row[]>);
      if (!row) throw new SettingsError('ALREADY_EXISTS', `${staffPermission.name.format(key)} already exists`);
      await insertAudit(trx, { key, actor, action: 'create', before: undefined, after: row });
      return this.result(row, await listVersion(trx, key));
    });
  }

  async update(key: StaffKey, changes: StaffFields, etag: bigint | undefined, actor: string, deadline: number): Promise<StaffWriteResult> {
    return this.db.write(WRITE, deadline, async (trx, waits) => {
      const before = await lockExisting(trx, key, etag, waits);
      if (Object.keys(changes).length === 0) return this.result(before, await listVersion(trx, key));
      await lockList(trx, key, waits);
      const [after] = (await trx(TABLE).where(key).update(changes).returning('*')) as Row[];
      await insertAudit(trx, { key, actor, action: 'update', before, after });
      return this.result(after!, await listVersion(trx, key));
    });
  }

  async delete(key: StaffKey, etag: bigint | undefined, actor: string, deadline: number): Promise<StaffWriteResult> {
    return this.db.write(WRITE, deadline, async (trx, waits) => {
      const before = await lockExisting(trx, key, etag, waits);
      await lockList(trx, key, waits);
      await trx(TABLE).where(key).delete();
      await insertAudit(trx, { key, actor, action: 'delete', before, after: undefined });
      const lv = await listVersion(trx, key);
      // The delete has no row version of its own; the list version (drawn after it) orders it.
      return { permission: { ...loadedFromRow(staffPermission, before, this.tokens).value, consistencyToken: this.tokens.issue(lv) }, rowVersion: lv, listVersion: lv };
    });
  }

  /** Write tokens carry the list version too, so a List read with them sees the write (token.ts). */
  private result(row: Row, lv: bigint): StaffWriteResult {
    const version = rowVersion(row);
    const permission = { ...loadedFromRow(staffPermission, row, this.tokens).value, consistencyToken: this.tokens.issue(version, lv > version ? lv : version) };
    return { permission, rowVersion: version, listVersion: lv };
  }
}

async function lockExisting(trx: Knex.Transaction, key: StaffKey, etag: bigint | undefined, waits: RowLockWaits): Promise<Row> {
  const name = staffPermission.name.format(key);
  const row = await lockRow(trx, TABLE, key, waits);
  if (!row) throw new SettingsError('NOT_FOUND', `${name} not found`);
  checkEtag(row, etag, name);
  return row;
}

/**
 * Locks the account's list row (when there is one) before a grant change, whose trigger
 * (migration 0005) locks it anyway, inside the INSERT/UPDATE/DELETE: there a wait for another
 * transaction holding it (a psql session changing a grant of the account) was bounded only by
 * PostgreSQL's lock_timeout and not counted against DB_LOCK_WAIT_MAX_CONCURRENCY. An update or a
 * delete takes it after the grant's own row, the trigger's order, so it never deadlocks with
 * another grant change. A create takes it before its insert: only a concurrent insert of the
 * same grant (which then waits for the list while this insert waits for it) can deadlock, and
 * PostgreSQL's lock_timeout (this save's lock budget) ends that wait with ROW_LOCKED, before its
 * deadlock check (deadlock_timeout, 1 s by default) at the default budget.
 */
async function lockList(trx: Knex.Transaction, key: AccountKey, waits: RowLockWaits): Promise<void> {
  await lockRow(trx, staffPermissionListsTable.table, { account_id: key.account_id }, waits);
}

/** The account's list version after this transaction's grant change (the trigger bumped it). */
async function listVersion(trx: Knex.Transaction, key: AccountKey): Promise<bigint> {
  const row = (await trx(staffPermissionListsTable.table).where({ account_id: key.account_id }).first('version')) as Row | undefined;
  return row ? rowVersion(row) : 0n;
}
