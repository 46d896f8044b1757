import type { Knex } from 'knex';
import { roleFromJSON, StaffPermission } from '@settings/api';
import { encodeToken } from '../consistency/token';
import type { Loaded } from '../cache/read-through';
import { SettingsError } from '../errors';
import { names, type StaffRef } from '../grpc/common/names';
import type { Db } from './db';
import type { Row } from './singleton-write';
import { insertAudit } from './staff-permission-audit-repo';

const TABLE = 'staff_permissions';

export const staffKey = (r: StaffRef): string => `${r.accountId}/${r.staffId}`;

export interface StaffList {
  /** staff_permission_lists.version, read in the same snapshot as the rows; 0 = never written. */
  readonly listVersion: bigint;
  readonly items: readonly StaffPermission[];
  /** More rows exist than were read (the list is too long to cache whole). */
  readonly truncated: boolean;
}

export interface StaffWriteResult {
  /** The grant after the write (for a delete: as it was before). */
  readonly permission: StaffPermission;
  readonly rowVersion: bigint;
  readonly listVersion: bigint;
}

export interface StaffFields {
  role?: string;
  permissions?: string[];
  disabled?: boolean;
}

export class StaffPermissionsRepo {
  constructor(private readonly db: Db) {}

  async load(refs: readonly StaffRef[], deadline: number): Promise<Map<string, Loaded<StaffPermission>>> {
    const pairs = [...new Map(refs.map((r) => [staffKey(r), [r.accountId, r.staffId]])).values()];
    const rows = await this.db.read<Row[]>('staff_permissions.read', deadline, (k) => k(TABLE).whereIn(['account_id', 'staff_id'], pairs));
    return new Map(rows.map((r) => [`${r.account_id as string}/${r.staff_id as string}`, toLoaded(r)]));
  }

  /** The first `cap` grants of an account and the list version, in one statement (one snapshot). */
  async loadList(accountId: string, cap: number, deadline: number): Promise<StaffList> {
    const result = await this.db.read<{ rows: Row[] }>('staff_permission_list.read', deadline, (k) =>
      k.raw(
        `SELECT l.version AS list_version, sp.*
           FROM (SELECT CAST(? AS text) AS account_id) a
           LEFT JOIN staff_permission_lists l ON l.account_id = a.account_id
           LEFT JOIN LATERAL (
             SELECT * FROM staff_permissions s WHERE s.account_id = a.account_id ORDER BY s.staff_id LIMIT ?
           ) sp ON true
          ORDER BY sp.staff_id`,
        [accountId, cap + 1],
      ),
    );
    const rows = result.rows;
    const listVersion = rows[0]?.list_version == null ? 0n : BigInt(rows[0].list_version as string);
    const grants = rows.filter((r) => r.staff_id != null);
    return { listVersion, items: grants.slice(0, cap).map((r) => toLoaded(r).value), truncated: grants.length > cap };
  }

  /** One page straight from PostgreSQL, for lists too long to cache. */
  async loadPage(accountId: string, afterStaffId: string | undefined, limit: number, deadline: number): Promise<StaffPermission[]> {
    const rows = await this.db.read<Row[]>('staff_permission_page.read', deadline, (k) => {
      const q = k(TABLE).where('account_id', accountId).orderBy('staff_id').limit(limit);
      return afterStaffId === undefined ? q : q.andWhere('staff_id', '>', afterStaffId);
    });
    return rows.map((r) => toLoaded(r).value);
  }

  async create(ref: StaffRef, fields: Required<StaffFields>, actor: string, deadline: number): Promise<StaffWriteResult> {
    return this.db.write('staff_permissions.write', deadline, async (trx) => {
      const [row] = (await trx(TABLE)
        .insert({ account_id: ref.accountId, staff_id: ref.staffId, ...fields })
        .onConflict(['account_id', 'staff_id'])
        .ignore()
        .returning('*')) as Row[];
      if (!row) throw new SettingsError('ALREADY_EXISTS', `${names.staffPermission(ref.accountId, ref.staffId)} already exists`);
      await insertAudit(trx, { ...ref, actor, action: 'create', before: undefined, after: row });
      return result(row, await listVersion(trx, ref.accountId));
    });
  }

  async update(ref: StaffRef, changes: StaffFields, etag: bigint | undefined, actor: string, deadline: number): Promise<StaffWriteResult> {
    return this.db.write('staff_permissions.write', deadline, async (trx) => {
      const before = await lockExisting(trx, ref, etag);
      if (Object.keys(changes).length === 0) return result(before, await listVersion(trx, ref.accountId));
      const [after] = (await trx(TABLE).where({ account_id: ref.accountId, staff_id: ref.staffId }).update(changes).returning('*')) as Row[];
      await insertAudit(trx, { ...ref, actor, action: 'update', before, after });
      return result(after!, await listVersion(trx, ref.accountId));
    });
  }

  async delete(ref: StaffRef, etag: bigint | undefined, actor: string, deadline: number): Promise<StaffWriteResult> {
    return this.db.write('staff_permissions.write', deadline, async (trx) => {
      const before = await lockExisting(trx, ref, etag);
      await trx(TABLE).where({ account_id: ref.accountId, staff_id: ref.staffId }).delete();
      await insertAudit(trx, { ...ref, actor, action: 'delete', before, after: undefined });
      const lv = await listVersion(trx, ref.accountId);
      // The delete has no row version of its own; the list version (drawn after it) orders it.
      return { permission: { ...toLoaded(before).value, consistencyToken: encodeToken(lv) }, rowVersion: lv, listVersion: lv };
    });
  }
}

async function lockExisting(trx: Knex.Transaction, ref: StaffRef, etag: bigint | undefined): Promise<Row> {
  const name = names.staffPermission(ref.accountId, ref.staffId);
  const row = (await trx(TABLE).where({ account_id: ref.accountId, staff_id: ref.staffId }).forUpdate().first()) as Row | undefined;
  if (!row) throw new SettingsError('NOT_FOUND', `${name} not found`);
  if (etag !== undefined && BigInt(row.version as string) !== etag) {
    throw new SettingsError('ETAG_MISMATCH', `etag ${etag} does not match the current etag of ${name}; re-read and retry`);
  }
  return row;
}

async function listVersion(trx: Knex.Transaction, accountId: string): Promise<bigint> {
  const row = (await trx('staff_permission_lists').where({ account_id: accountId }).first('version')) as Row | undefined;
  return row ? BigInt(row.version as string) : 0n;
}

function result(row: Row, lv: bigint): StaffWriteResult {
  const rowVersion = BigInt(row.version as string);
  const permission = { ...toLoaded(row).value, consistencyToken: encodeToken(rowVersion, lv > rowVersion ? lv : rowVersion) };
  return { permission, rowVersion, listVersion: lv };
}

export function toLoaded(r: Row): Loaded<StaffPermission> {
  const version = BigInt(r.version as string);
  const value = StaffPermission.fromPartial({
    name: names.staffPermission(r.account_id as string, r.staff_id as string),
    role: roleFromJSON(r.role),
    permissions: r.permissions as string[],
    disabled: r.disabled as boolean,
    createTime: r.create_time as Date,
    updateTime: r.update_time as Date,
    etag: version.toString(),
    consistencyToken: encodeToken(version),
  });
  return { version, value };
}
