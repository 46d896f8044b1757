import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { AccountSettings, OnPatientSettings } from '@settings/api';
import { localDatabaseUrl, localStack } from '@settings/shared';
import { accountsDeletedAfterAll, db, expectError, startTestServer, waitFor, type TestServer } from '../support/test-server';

/**
 * What the service's PostgreSQL sessions must be (src/db/session-requirements.ts), and what a
 * save whose answer never came back is told (src/db/db.ts), against the local stack's
 * PostgreSQL: a session that can only read is never pooled for saves; a table lock from psql
 * ends a save's wait at DB_LOCK_TIMEOUT_MS; a one-statement save that ran out of time after it
 * was sent may have committed, and says so.
 */
jest.setTimeout(60_000);
const newAccount = accountsDeletedAfterAll();

const settings = (accountId: string, displayName: string) => ({
  accountSettings: AccountSettings.fromPartial({ name: `accounts/${accountId}/settings`, displayName }),
  updateMask: ['display_name'],
  allowMissing: true,
});

describe('a role whose sessions are read-only (as on a standby, or a server a failover left behind)', () => {
  const role = `settings_ro_${randomBytes(4).toString('hex')}`;
  let t: TestServer | undefined;

  beforeAll(async () => {
    // A login of its own with the service's privileges, so no other test sees the setting.
    await db(`CREATE ROLE ${role} LOGIN IN ROLE settings_app`);
    await db(`ALTER ROLE ${role} SET default_transaction_read_only = on`);
    t = await startTestServer({ DATABASE_URL: localDatabaseUrl.replace('settings_app@', `${role}@`) });
  });
  afterAll(async () => {
    await t?.close();
    await db(`DROP ROLE IF EXISTS ${role}`);
  });

  it('fails saves UNAVAILABLE with RetryInfo, then saves at once when the sessions can write again: no read-only connection stays pooled', async () => {
    const a = newAccount();
    for (let i = 0; i < 3; i++) {
      const err = await expectError(() => t!.call('updateAccountSettings', settings(a, 'refused')));
      expect(err).toMatchObject({ code: 14 /* UNAVAILABLE */, reason: 'DATABASE_UNAVAILABLE' });
      expect(err.retryDelayMs).toBeGreaterThan(0);
    }
    // Reads are not refused: the server is a primary, only this role's transactions are read-only.
    await t!.call('getAccountSettings', { name: `accounts/${a}/settings`, consistency: { requirement: { $case: 'fullyConsistent', value: true } } }).catch(() => undefined);
    // The refused connections were closed, not left open on the server (knex does not close
    // what its afterCreate refused): only the read pool's sessions remain.
    await waitFor(async () => Number((await db(`SELECT count(*) AS n FROM pg_stat_activity WHERE usename = $1 AND application_name = 'settings-service-write'`, [role]))[0]!.n) === 0, 5000, 'no write session of the role left open');

    await db(`ALTER ROLE ${role} RESET default_transaction_read_only`);
    // The next save connects again (new sessions take the role's settings at connect).
    const saved = await t!.call('updateAccountSettings', settings(a, 'accepted'));
    expect(saved.displayName).toBe('accepted');
  });
});

describe('a table lock held from psql (LOCK TABLE, VACUUM FULL, an ALTER)', () => {
  const LOCK_TIMEOUT_MS = 300;
  let t: TestServer | undefined;
  let psql: Client | undefined;

  beforeAll(async () => {
    t = await startTestServer({ DB_LOCK_TIMEOUT_MS: String(LOCK_TIMEOUT_MS), DB_WRITE_POOL_MAX: '4' });
  });
  afterAll(async () => {
    await psql?.query('ROLLBACK').catch(() => undefined);
    await psql?.end().catch(() => undefined);
    await t?.close();
  });

  it('ends the waits of six saves (DB_LOCK_TIMEOUT_MS 300 ms) within 3 s with ABORTED ROW_LOCKED and RetryInfo, and saves of other tables keep working', async () => {
    const a = newAccount();
    const onpatient = (welcomeMessage: string) => ({
      onpatientSettings: OnPatientSettings.fromPartial({ name: `accounts/${a}/onpatientSettings`, welcomeMessage }),
      updateMask: ['welcome_message'],
      allowMissing: true,
    });
    await t!.call('updateAccountSettings', settings(a, 'exists'));
    // The row exists: its saves take the one-statement path (which skips locked rows, and
    // before session lock_timeout waited for a table lock until the statement cap).
    await t!.call('updateOnPatientSettings', onpatient('first'));
    psql = new Client({ host: '127.0.0.1', port: localStack.postgresPort, user: 'postgres', database: localStack.database });
    await psql.connect();
    await psql.query('BEGIN');
    // Plain SELECTs still pass; every write of the table waits.
    await psql.query('LOCK TABLE onpatient_settings IN EXCLUSIVE MODE');

    const started = Date.now();
    const blocked = await Promise.all(
      Array.from({ length: 6 }, () =>
        expectError(() => t!.call('updateOnPatientSettings', onpatient('blocked'))),
      ),
    );
    const elapsed = Date.now() - started;
    for (const err of blocked) expect(err).toMatchObject({ code: 10 /* ABORTED */, reason: 'ROW_LOCKED' });
    expect(blocked[0]!.retryDelayMs).toBeGreaterThan(0);
    // Six saves on four connections, each wait bounded: well below the 5 s statement cap.
    expect(elapsed).toBeLessThan(3000);
    // Meanwhile the write pool is not held: a save of another table goes through.
    expect((await t!.call('updateAccountSettings', settings(a, 'other table'))).displayName).toBe('other table');
    await psql.query('ROLLBACK');
  });
});

describe('a one-statement save that runs out of time after it was sent', () => {
  let t: TestServer | undefined;

  beforeAll(async () => {
    t = await startTestServer({ DB_STATEMENT_TIMEOUT_MS: '800' });
  });
  afterAll(async () => {
    await db(`ALTER SYSTEM RESET synchronous_standby_names`);
    await db('SELECT pg_reload_conf()');
    await t?.close();
  });

  it('is answered WRITE_OUTCOME_UNKNOWN without RetryInfo, because it may have committed (here it did: a commit waiting for a synchronous standby)', async () => {
    const a = newAccount();
    const created = await t!.call('updateAccountSettings', settings(a, 'before'));
    // Every commit now waits for a standby that does not exist; a cancel only warns "the
    // transaction has already committed locally". Reset right after the save.
    await db(`ALTER SYSTEM SET synchronous_standby_names = 'settings_test_absent_standby'`);
    await db('SELECT pg_reload_conf()');
    // pg_reload_conf() only signals the postmaster: a save sent before it reloaded committed at
    // once (seen on CI). A new session sees the setting once the postmaster has reloaded, which
    // it does right before it signals every backend, the service's pooled ones included.
    await waitFor(async () => (await db('SHOW synchronous_standby_names'))[0]?.synchronous_standby_names === 'settings_test_absent_standby', 5000, 'the setting reloaded');
    let err;
    try {
      err = await expectError(() => t!.call('updateAccountSettings', { ...settings(a, 'after'), accountSettings: { ...settings(a, 'after').accountSettings, etag: created.etag } }));
    } finally {
      await db(`ALTER SYSTEM RESET synchronous_standby_names`);
      await db('SELECT pg_reload_conf()');
    }
    expect(err).toMatchObject({ code: 14 /* UNAVAILABLE */, reason: 'WRITE_OUTCOME_UNKNOWN' });
    expect(err!.retryDelayMs).toBeUndefined();
    await waitFor(async () => (await db('SELECT display_name FROM account_settings WHERE account_id = $1', [a]))[0]?.display_name === 'after', 5000, 'the save committed');
  });
});

describe('a CHECK of the database stricter than the service\'s validation (a migration ahead of checks.ts)', () => {
  let t: TestServer | undefined;
  const constraint = `onpatient_settings_welcome_message_check${Date.now() % 100_000}`;

  beforeAll(async () => {
    t = await startTestServer();
    await db(`ALTER TABLE onpatient_settings ADD CONSTRAINT ${constraint} CHECK (char_length(welcome_message) <= 10) NOT VALID`);
  });
  afterAll(async () => {
    await db(`ALTER TABLE onpatient_settings DROP CONSTRAINT IF EXISTS ${constraint}`);
    await t?.close();
  });

  it('is INVALID_ARGUMENT naming the request field, not the constraint', async () => {
    const a = newAccount();
    await t!.call('updateAccountSettings', settings(a, 'exists'));
    const err = await expectError(() =>
      t!.call('updateOnPatientSettings', {
        onpatientSettings: OnPatientSettings.fromPartial({ name: `accounts/${a}/onpatientSettings`, welcomeMessage: 'twenty characters!!!' }),
        updateMask: ['welcome_message'],
        allowMissing: true,
      }),
    );
    expect(err).toMatchObject({ code: 3 /* INVALID_ARGUMENT */, fieldViolations: [{ field: 'onpatient_settings.welcome_message', description: expect.any(String) }] });
    expect(JSON.stringify(err)).not.toContain(constraint);
  });
});
