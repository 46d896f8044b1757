import { Client } from 'pg';
import { Role, StaffPermission } from '@settings/api';
import { localStack } from '@settings/shared';
import { accountsDeletedAfterAll, db, serverForTests } from '../support/test-server';

/**
 * README, Guarantees (Watch, resumable): a TRUNCATE of staff_permissions empties every grant
 * list, and every list's version moves past the one it had (migration 0009), so a Watch resumed
 * with a list version from before the TRUNCATE is sent the (empty) list, and a list cached at
 * that version is fenced like after any grant change. Checked inside a transaction that is
 * rolled back: the shared table keeps the other suites' grants.
 */
const newAccount = accountsDeletedAfterAll();
const t = serverForTests();

it('TRUNCATE staff_permissions gives both accounts\' grant lists a new, higher version in the same transaction', async () => {
  const [a, b] = [newAccount(), newAccount()];
  for (const account of [a, b]) await t.call('createStaffPermission', { parent: `accounts/${account}`, staffPermissionId: 's1', staffPermission: StaffPermission.fromPartial({ role: Role.ROLE_ADMIN }) });
  const versionsOf = async (query: (sql: string, params: unknown[]) => Promise<Array<Record<string, unknown>>>): Promise<bigint[]> =>
    (await query('SELECT version FROM staff_permission_lists WHERE account_id = ANY($1) ORDER BY account_id', [[a, b].sort()])).map((r) => BigInt(r.version as string));
  const before = await versionsOf(db);
  expect(before).toHaveLength(2);

  const client = new Client({ host: '127.0.0.1', port: localStack.postgresPort, user: 'postgres', database: localStack.database });
  await client.connect();
  try {
    await client.query('BEGIN');
    await client.query('TRUNCATE staff_permissions');
    const after = await versionsOf(async (sql, params) => (await client.query(sql, params)).rows as Array<Record<string, unknown>>);
    expect((await client.query('SELECT count(*)::int AS n FROM staff_permissions')).rows[0].n).toBe(0);
    // Both list rows stay (emptied, with new versions): a missing row would pass the loop below.
    expect(after).toHaveLength(2);
    after.forEach((v, i) => expect(v).toBeGreaterThan(before[i]!));
  } finally {
    await client.query('ROLLBACK');
    await client.end();
  }
  expect(await versionsOf(db)).toEqual(before);
});
