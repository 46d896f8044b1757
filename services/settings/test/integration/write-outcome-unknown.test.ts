import { credentials } from '@grpc/grpc-js';
import { AccountSettings, createSettingsClient, Role, StaffPermission, type SettingsClient } from '@settings/api';
import { startPgAnswerLossProxy, type PgAnswerLossProxy } from '../support/pg-answer-loss-proxy';
import { accountsDeletedAfterAll, db, expectError, metricValue, startTestServer, type TestServer } from '../support/test-server';

/**
 * README, Failure modes ("PostgreSQL connection lost mid-call"): a save whose connection is lost
 * after its one statement or its COMMIT was sent may have been applied. It is answered UNAVAILABLE
 * WRITE_OUTCOME_UNKNOWN without a RetryInfo, so the settings-api client (which retries a write
 * only with a RetryInfo) does not send it again; lost before that point it was rolled back and
 * stays DATABASE_UNAVAILABLE with a RetryInfo. The service reaches PostgreSQL through a proxy
 * that loses PostgreSQL's answers right after the statement the test names was forwarded.
 * Before the fix every case below was DATABASE_UNAVAILABLE with a RetryInfo, and the client's
 * retry of the committed save came back ETAG_MISMATCH, ALREADY_EXISTS, or was applied twice.
 */
jest.setTimeout(30_000);
const GRACE_MS = 300;
const newAccount = accountsDeletedAfterAll();
let proxy: PgAnswerLossProxy | undefined;
let t: TestServer | undefined;
/** The client other services use, with its default retries (writes only on a RetryInfo). */
let retrying: SettingsClient | undefined;

beforeAll(async () => {
  proxy = await startPgAnswerLossProxy();
  // A short statement cap, so a connection left silent is cut (cap + grace) well within a call.
  t = await startTestServer({ DATABASE_URL: proxy.databaseUrl, DB_STATEMENT_TIMEOUT_MS: '1500', DB_ANSWER_GRACE_MS: String(GRACE_MS) });
  retrying = createSettingsClient({ address: `127.0.0.1:${t.running.port}`, credentials: credentials.createInsecure(), token: t.token });
});
afterAll(async () => {
  retrying?.close();
  await proxy?.close();
  await t?.close();
});

const settings = (accountId: string, displayName: string, etag = '') => ({
  accountSettings: AccountSettings.fromPartial({ name: `accounts/${accountId}/settings`, displayName, etag }),
  updateMask: ['display_name'],
  allowMissing: true,
});
const grant = (accountId: string, role: Role) => ({ parent: `accounts/${accountId}`, staffPermissionId: 's1', staffPermission: StaffPermission.fromPartial({ role }) });
const grantRows = (accountId: string) => db('SELECT role FROM staff_permissions WHERE account_id = $1', [accountId]);
const auditRows = (accountId: string) => db('SELECT action FROM staff_permission_audit WHERE account_id = $1 ORDER BY id', [accountId]);
const outcomeUnknown = { code: 14 /* UNAVAILABLE */, reason: 'WRITE_OUTCOME_UNKNOWN', retryDelayMs: undefined };

describe('a save whose connection is lost after its commit was sent', () => {
  it('one-statement save: UNAVAILABLE WRITE_OUTCOME_UNKNOWN without RetryInfo, the row changed, and the client did not retry it', async () => {
    const a = newAccount();
    const created = await t!.call('updateAccountSettings', settings(a, 'before'));
    const lost = proxy!.loseAnswersAfter('with "found"');
    const err = await expectError(() => retrying!.updateAccountSettings(settings(a, 'after', created.etag), { deadlineMs: 5000 }));
    await lost;
    // Retried, this was ABORTED ETAG_MISMATCH: the first attempt had committed.
    expect({ code: err.code, reason: err.reason, retryDelayMs: err.retryDelayMs }).toEqual(outcomeUnknown);
    expect(err.message).toMatch(/may have been applied; read the resource \(its etag\) before retrying/);
    const [row] = await db('SELECT display_name, version::text AS version FROM account_settings WHERE account_id = $1', [a]);
    expect(row!.display_name).toBe('after');
    expect(BigInt(row!.version as string)).toBeGreaterThan(BigInt(created.etag));
  });

  it('transaction (grant create), its COMMIT answer lost: WRITE_OUTCOME_UNKNOWN, the grant and its one audit row committed, not retried', async () => {
    const a = newAccount();
    const lost = proxy!.loseAnswersAfter('COMMIT');
    const err = await expectError(() => retrying!.createStaffPermission(grant(a, Role.ROLE_NURSE), { deadlineMs: 5000 }));
    await lost;
    // Retried, this was ALREADY_EXISTS.
    expect({ code: err.code, reason: err.reason, retryDelayMs: err.retryDelayMs }).toEqual(outcomeUnknown);
    expect(await grantRows(a)).toEqual([{ role: 'ROLE_NURSE' }]);
    expect(await auditRows(a)).toEqual([{ action: 'create' }]);
  });

  it('a connection left silent after COMMIT and cut by the service (DB_ANSWER_GRACE_MS): WRITE_OUTCOME_UNKNOWN, applied once', async () => {
    const a = newAccount();
    await t!.call('createStaffPermission', grant(a, Role.ROLE_NURSE));
    const cutBefore = await metricValue(t!.running, 'settings_db_connections_cut_total', { pool: 'write' });
    const lost = proxy!.loseAnswersAfter('COMMIT', { silent: true });
    // No etag: retried, the update was applied a second time, with a second audit row.
    const update = { staffPermission: StaffPermission.fromPartial({ name: `accounts/${a}/staffPermissions/s1`, role: Role.ROLE_BILLING }), updateMask: ['role'] };
    const err = await expectError(() => retrying!.updateStaffPermission(update, { deadlineMs: 5000 }));
    await lost;
    expect({ code: err.code, reason: err.reason, retryDelayMs: err.retryDelayMs }).toEqual(outcomeUnknown);
    expect(await metricValue(t!.running, 'settings_db_connections_cut_total', { pool: 'write' })).toBe(cutBefore + 1);
    expect(await grantRows(a)).toEqual([{ role: 'ROLE_BILLING' }]);
    expect(await auditRows(a)).toEqual([{ action: 'create' }, { action: 'update' }]);
  });
});

describe('a save whose connection is lost before its commit was sent', () => {
  it('transaction lost after its INSERT, before COMMIT: DATABASE_UNAVAILABLE with RetryInfo, nothing saved, and the same request then succeeds', async () => {
    const a = newAccount();
    const lost = proxy!.loseAnswersAfter('insert into "staff_permissions"');
    const err = await expectError(() => t!.call('createStaffPermission', grant(a, Role.ROLE_NURSE), { deadlineMs: 5000 }));
    await lost;
    expect({ code: err.code, reason: err.reason, retryDelayMs: err.retryDelayMs }).toEqual({ code: 14, reason: 'DATABASE_UNAVAILABLE', retryDelayMs: 200 });
    expect(await grantRows(a)).toEqual([]);
    expect(await auditRows(a)).toEqual([]);
    expect((await t!.call('createStaffPermission', grant(a, Role.ROLE_NURSE))).role).toBe(Role.ROLE_NURSE);
  });

  it('one-statement save whose connection is lost before the statement is sent: DATABASE_UNAVAILABLE with RetryInfo, the row unchanged', async () => {
    const a = newAccount();
    await t!.call('updateAccountSettings', settings(a, 'before'));
    proxy!.refuseConnections(true);
    try {
      // The pool notices that its idle connections were closed (pg's 'end' event) and opens a new
      // one for the save, which the proxy closes at once: nothing is sent. (A save that drew a
      // closed connection before pg noticed has written its statement to the socket: that one
      // cannot tell, and is WRITE_OUTCOME_UNKNOWN.)
      await new Promise((r) => setTimeout(r, 200));
      const err = await expectError(() => t!.call('updateAccountSettings', settings(a, 'refused'), { deadlineMs: 5000 }));
      expect({ code: err.code, reason: err.reason, retryDelayMs: err.retryDelayMs }).toEqual({ code: 14, reason: 'DATABASE_UNAVAILABLE', retryDelayMs: 200 });
    } finally {
      proxy!.refuseConnections(false);
    }
    expect(await db('SELECT display_name FROM account_settings WHERE account_id = $1', [a])).toEqual([{ display_name: 'before' }]);
    expect((await t!.call('updateAccountSettings', settings(a, 'saved'))).displayName).toBe('saved');
  });
});
