import { Client } from 'pg';
import { localAdminDatabaseUrl } from '@settings/shared';
import { accountsDeletedAfterAll, db } from '../support/test-server';

/**
 * Every change of a cached row draws a new version, also in `session_replication_role = replica`
 * (what `pg_restore --disable-triggers`, bulk loaders and logical-replication apply use). A
 * plain trigger does not fire there: a row changed in that mode kept its version, Debezium
 * still published the change, and the invalidator's marker at that same version fenced nothing,
 * so a revoked grant stayed cached as active until the TTL, with the auditor seeing "consistent".
 * Against the real PostgreSQL; no service needed.
 */
const newAccount = accountsDeletedAfterAll();

async function versions(a: string): Promise<Record<string, bigint>> {
  const one = async (sql: string): Promise<bigint> => BigInt((await db(sql, [a]))[0]!.version as string);
  return {
    account: await one('SELECT version FROM account_settings WHERE account_id = $1'),
    doctor: await one("SELECT version FROM doctor_settings WHERE account_id = $1 AND doctor_id = 'd1'"),
    onpatient: await one('SELECT version FROM onpatient_settings WHERE account_id = $1'),
    grant: await one("SELECT version FROM staff_permissions WHERE account_id = $1 AND staff_id = 's1'"),
    list: await one('SELECT version FROM staff_permission_lists WHERE account_id = $1'),
  };
}

it('draws a new version for every change made with session_replication_role = replica, the grant list included', async () => {
  const a = newAccount();
  await db('INSERT INTO account_settings (account_id) VALUES ($1)', [a]);
  await db("INSERT INTO doctor_settings (account_id, doctor_id) VALUES ($1, 'd1')", [a]);
  await db('INSERT INTO onpatient_settings (account_id) VALUES ($1)', [a]);
  await db("INSERT INTO staff_permissions (account_id, staff_id, role) VALUES ($1, 's1', 'ROLE_NURSE')", [a]);
  const before = await versions(a);

  const admin = new Client({ connectionString: localAdminDatabaseUrl });
  await admin.connect();
  try {
    await admin.query('BEGIN');
    await admin.query('SET LOCAL session_replication_role = replica');
    await admin.query("UPDATE account_settings SET display_name = 'restored' WHERE account_id = $1", [a]);
    await admin.query("UPDATE doctor_settings SET display_name = 'restored' WHERE account_id = $1", [a]);
    await admin.query("UPDATE onpatient_settings SET welcome_message = 'restored' WHERE account_id = $1", [a]);
    await admin.query('UPDATE staff_permissions SET disabled = true WHERE account_id = $1', [a]);
    await admin.query('COMMIT');
  } finally {
    await admin.end();
  }
  const after = await versions(a);
  for (const k of Object.keys(before)) expect([k, after[k]! > before[k]!]).toEqual([k, true]);
});

// PostgreSQL's logical-replication apply workers run with an empty search_path; so may restore
// tools. The trigger functions resolved the sequence and the list table through the caller's
// path and failed every change there ("relation settings_version_seq does not exist").
it('draws an account version for a session with an empty search_path, where a grant change also commits', async () => {
  const a = newAccount();
  await db("INSERT INTO staff_permissions (account_id, staff_id, role) VALUES ($1, 's1', 'ROLE_NURSE')", [a]);
  const admin = new Client({ connectionString: localAdminDatabaseUrl });
  await admin.connect();
  try {
    await admin.query('BEGIN');
    await admin.query("SET LOCAL search_path = ''");
    await admin.query('INSERT INTO public.account_settings (account_id) VALUES ($1)', [a]);
    await admin.query('UPDATE public.staff_permissions SET disabled = true WHERE account_id = $1', [a]);
    await admin.query('COMMIT');
  } finally {
    await admin.end();
  }
  expect(BigInt((await db('SELECT version FROM account_settings WHERE account_id = $1', [a]))[0]!.version as string)).toBeGreaterThan(0n);
});
