import { AccountSettings } from '@settings/api';
import { startPostgresStandby, type PostgresStandby } from '@settings/local-stack';
import { accountsDeletedAfterAll, expectError, startTestServer, type TestServer } from '../support/test-server';

/**
 * A failover, both sides of it, against real PostgreSQL servers: a hot standby of the stack's
 * primary (streaming replication, `pg_basebackup -R`) stands for the server a DATABASE_URL still
 * names after a failover (the old primary, rejoined as a standby, while DNS or a proxy has not
 * switched). A standby answers reads, so only the connect-time check (src/db/session-requirements.ts)
 * keeps the read pool from serving a lagging copy; then the standby is promoted, as a failover
 * promotes one, and the same replica must use it from the next call on, without a restart.
 */
jest.setTimeout(90_000);
const newAccount = accountsDeletedAfterAll();

const name = (accountId: string): string => `accounts/${accountId}/settings`;
const save = (accountId: string, displayName: string) => ({
  accountSettings: AccountSettings.fromPartial({ name: name(accountId), displayName }),
  updateMask: ['display_name'],
  allowMissing: true,
});
const fullyConsistent = { requirement: { $case: 'fullyConsistent' as const, value: true } };

describe('a DATABASE_URL that names a standby (the old primary after a failover)', () => {
  let primary: TestServer | undefined;
  let standby: PostgresStandby | undefined;
  let t: TestServer | undefined;

  beforeAll(async () => {
    primary = await startTestServer();
    standby = await startPostgresStandby();
  });
  afterAll(async () => {
    await t?.close();
    await primary?.close();
    await standby?.remove();
  });

  it('refuses every new connection, reads included (UNAVAILABLE DATABASE_UNAVAILABLE with RetryInfo); once promoted, the same replica reads and saves there', async () => {
    // Saved on the primary and never read: not in the cache, so a read goes to PostgreSQL.
    const a = newAccount();
    const b = newAccount();
    await primary!.call('updateAccountSettings', save(a, 'on the primary'));
    await primary!.call('updateAccountSettings', save(b, 'on the primary'));
    await standby!.caughtUp();
    expect(await standby!.inRecovery()).toBe(true);

    t = await startTestServer({ DATABASE_URL: standby!.url('settings_app') });
    // The standby holds the rows and would answer these reads; the service must not use it.
    for (const req of [{ name: name(a) }, { name: name(a), consistency: fullyConsistent }]) {
      const err = await expectError(() => t!.call('getAccountSettings', req));
      expect(err).toMatchObject({ code: 14 /* UNAVAILABLE */, reason: 'DATABASE_UNAVAILABLE' });
      expect(err.retryDelayMs).toBeGreaterThan(0);
    }
    const refusedSave = await expectError(() => t!.call('updateAccountSettings', save(a, 'refused')));
    expect(refusedSave).toMatchObject({ code: 14, reason: 'DATABASE_UNAVAILABLE' });
    expect(refusedSave.retryDelayMs).toBeGreaterThan(0);

    await standby!.promote();
    // The next calls connect again, now to a primary: no restart, no stale pooled connection.
    const read = await t.call('getAccountSettings', { name: name(b) });
    expect(read.displayName).toBe('on the primary');
    const saved = await t.call('updateAccountSettings', save(a, 'after the failover'));
    expect(saved.displayName).toBe('after the failover');
  });
});
