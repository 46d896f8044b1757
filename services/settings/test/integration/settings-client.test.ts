import { AccountSettings, createSettingsClient, SettingsApiError, type SettingsClient } from '@settings/api';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { credentials, status } from '@grpc/grpc-js';
import { lockAccountRow } from '../support/row-lock';
import { accountsDeletedAfterAll, metricValue, mintToken, serverForTests, waitFor } from '../support/test-server';

/**
 * The client of @settings/api (issue 14) against a real service: the README example, typed
 * errors decoded from ErrorInfo/BadRequest/RetryInfo, a retry that honours RetryInfo (a row lock
 * held elsewhere: ABORTED ROW_LOCKED, then success once it is released), the deadline seen by the
 * server, and a token function.
 */
const t = serverForTests({ DB_LOCK_TIMEOUT_MS: '150' });
const newAccount = accountsDeletedAfterAll();
let client: SettingsClient;
beforeAll(() => {
  client = createSettingsClient({ address: `127.0.0.1:${t.running.port}`, credentials: credentials.createInsecure(), token: () => t.token });
});
afterAll(() => client.close());

const abortedUpdates = (): Promise<number> => metricValue(t.running, 'settings_grpc_requests_total', { method: 'UpdateAccountSettings', code: 'ABORTED' });

it('the README example (example-caller.ts) writes, is refused a stale etag, and reads its own write', async () => {
  const a = newAccount();
  const token = await mintToken({ accounts: [a], scope: 'settings.read settings.write' });
  // The example's stale etag is the literal '1': on a brand-new database its own first write
  // could be version 1. One write before it makes '1' stale whatever ran before this test.
  await client.updateAccountSettings({ accountSettings: AccountSettings.fromPartial({ name: `accounts/${newAccount()}/settings`, displayName: 'first' }), updateMask: ['display_name'], allowMissing: true });
  // Run as its header says (a process of its own, as another team's service would be).
  const { stdout } = await promisify(execFile)('npx', ['tsx', 'packages/settings-api/src/example-caller.ts', `127.0.0.1:${t.running.port}`, token, a], { cwd: join(__dirname, '../../../..'), timeout: 60_000 });
  const parsed = JSON.parse(stdout) as { displayName?: string };
  expect(parsed).toMatchObject({ name: `accounts/${a}/settings`, timeZone: 'America/New_York' });
  // The stale-etag write of the display name was refused, not applied.
  expect(parsed.displayName).not.toBe('stale');
});

it('bad input is a SettingsApiError with code, reason and field violations', async () => {
  const err = await client.getAccountSettings({ name: 'accounts/NOT VALID/settings' }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(SettingsApiError);
  const e = err as SettingsApiError;
  expect({ code: e.codeName, reason: e.reason, domain: e.domain, retry: e.retryDelayMs }).toEqual({ code: 'INVALID_ARGUMENT', reason: 'INVALID_ARGUMENT', domain: 'settings.v1.SettingsService', retry: undefined });
  expect(e.fieldViolations.map((v) => v.field)).toEqual(['name']);
});

it('retries ABORTED ROW_LOCKED and succeeds once the lock is gone', async () => {
  const a = newAccount();
  const name = `accounts/${a}/settings`;
  await client.updateAccountSettings({ accountSettings: AccountSettings.fromPartial({ name, displayName: 'v1' }), updateMask: ['display_name'], allowMissing: true });
  const lock = await lockAccountRow(a);
  const before = await abortedUpdates();
  const write = client.updateAccountSettings({ accountSettings: AccountSettings.fromPartial({ name, displayName: 'v2' }), updateMask: ['display_name'], allowMissing: false }, { deadlineMs: 10_000, retry: { maxAttempts: 20 } });
  await waitFor(async () => (await abortedUpdates()) > before, 5_000, 'a first attempt refused with ROW_LOCKED');
  await lock.release();
  expect((await write).displayName).toBe('v2');
});

it('without retries the same failure reaches the caller with its RetryInfo delay', async () => {
  const a = newAccount();
  const name = `accounts/${a}/settings`;
  await client.updateAccountSettings({ accountSettings: AccountSettings.fromPartial({ name, displayName: 'v1' }), updateMask: ['display_name'], allowMissing: true });
  const lock = await lockAccountRow(a);
  try {
    const err = (await client.updateAccountSettings({ accountSettings: AccountSettings.fromPartial({ name, displayName: 'v2' }), updateMask: ['display_name'], allowMissing: false }, { retry: { maxAttempts: 1 } }).catch((e: unknown) => e)) as SettingsApiError;
    expect({ code: err.code, reason: err.reason, retryDelayMs: err.retryDelayMs }).toEqual({ code: status.ABORTED, reason: 'ROW_LOCKED', retryDelayMs: 250 });
  } finally {
    await lock.release();
  }
});

it('a write waiting on a lock ends as DEADLINE_EXCEEDED at the caller deadline, before the lock-wait cap', async () => {
  const a = newAccount();
  const name = `accounts/${a}/settings`;
  await client.updateAccountSettings({ accountSettings: AccountSettings.fromPartial({ name, displayName: 'v1' }), updateMask: ['display_name'], allowMissing: true });
  const lock = await lockAccountRow(a);
  try {
    // 100 ms is shorter than the lock wait cap (150 ms): only the caller's deadline can end it.
    const err = (await client.updateAccountSettings({ accountSettings: AccountSettings.fromPartial({ name, displayName: 'v2' }), updateMask: ['display_name'], allowMissing: false }, { deadlineMs: 100 }).catch((e: unknown) => e)) as SettingsApiError;
    expect(err.codeName).toBe('DEADLINE_EXCEEDED');
  } finally {
    await lock.release();
  }
});
