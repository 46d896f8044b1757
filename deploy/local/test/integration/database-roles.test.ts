import { Client } from 'pg';
import { localAuditorDatabaseUrl, localDatabaseRoles, localDatabaseUrl, localMigratorDatabaseUrl, localStack } from '@settings/shared';
import { pgQuery, uniqueId } from '../../src';

/**
 * The grants of deploy/postgres/bootstrap.sql, as the local stack applies them and the
 * services run under them: the app role writes settings rows (the version trigger draws from
 * the sequence as the caller) and can do nothing else; the replication role streams and can
 * change no schema; the owner role migrates.
 */
const account = uniqueId();
afterAll(() => pgQuery(localStack.database, 'DELETE FROM account_settings WHERE account_id = $1', [account]));

async function as<T>(url: string, fn: (c: Client) => Promise<T>): Promise<T> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

const sqlstateOf = (p: Promise<unknown>): Promise<unknown> => p.then(() => 'succeeded', (err: { code?: string }) => err.code);

describe('least-privilege database roles (bootstrap.sql applied by the stack)', () => {
  it('the app role writes a settings row, and the version trigger draws its version', async () => {
    const rows = await as(localDatabaseUrl, (c) => c.query('INSERT INTO account_settings (account_id) VALUES ($1) RETURNING version', [account]));
    expect(BigInt(rows.rows[0].version as string)).toBeGreaterThan(0n);
  });

  it('the app role can change no schema and cannot read the migration bookkeeping', async () => {
    expect(await as(localDatabaseUrl, (c) => sqlstateOf(c.query('CREATE TABLE app_should_not_create (x int)')))).toBe('42501');
    expect(await as(localDatabaseUrl, (c) => sqlstateOf(c.query('SELECT count(*) FROM knex_migrations')))).toBe('42501');
    expect(await as(localDatabaseUrl, (c) => sqlstateOf(c.query('TRUNCATE account_settings')))).toBe('42501');
    // Nor a temporary object, which would shadow ours for its session (a temporary
    // settings_version_seq handed that session's writes versions no marker fences).
    expect(await as(localDatabaseUrl, (c) => sqlstateOf(c.query('CREATE TEMP SEQUENCE settings_version_seq')))).toBe('42501');
  });

  it('the audit of grant changes is append-only for the app role and unreadable for the auditor role', async () => {
    expect(await as(localDatabaseUrl, (c) => sqlstateOf(c.query('DELETE FROM staff_permission_audit WHERE false')))).toBe('42501');
    expect(await as(localDatabaseUrl, (c) => sqlstateOf(c.query("UPDATE staff_permission_audit SET actor = actor WHERE false")))).toBe('42501');
    expect(await as(localAuditorDatabaseUrl, (c) => sqlstateOf(c.query('SELECT count(*) FROM staff_permission_audit')))).toBe('42501');
  });

  it('the migration role owns the schema; the connector streams as the replication role, which owns nothing', async () => {
    const owners = await pgQuery(localStack.database, "SELECT DISTINCT pg_get_userbyid(relowner) AS owner FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND relkind = 'r'");
    expect(owners.map((r) => r.owner)).toEqual([localDatabaseRoles.owner]);
    expect(await as(localMigratorDatabaseUrl, (c) => sqlstateOf(c.query('SELECT count(*) FROM knex_migrations')))).toBe('succeeded');
    const senders = await pgQuery(localStack.database, "SELECT usename FROM pg_stat_activity WHERE backend_type = 'walsender'");
    expect(senders.map((r) => r.usename)).toContain(localDatabaseRoles.replication);
    const owned = await pgQuery(localStack.database, "SELECT count(*)::int AS n FROM pg_class WHERE pg_get_userbyid(relowner) = $1", [localDatabaseRoles.replication]);
    expect(owned[0]!.n).toBe(0);
  });
});
