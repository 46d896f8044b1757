import { AccountSettings, Role, SettingsServiceClient, StaffPermission } from '@settings/api';
import { clinicSettingsCache } from '@settings/api/dist/src/example-watcher';
import { credentials } from '@grpc/grpc-js';
import { freePort } from '@settings/local-stack';
import { sql, startTestInvalidator, waitFor } from '../support/test-invalidator';
import type { RunningInvalidator } from '../../src/invalidator';
import { startLocalSettingsService, type LocalSettingsService } from '../support/local-settings-service';

/**
 * Watch through the whole real pipeline: the package's example watcher (SettingsWatch) keeps an
 * account's settings and staff permissions in memory; writes through gRPC and psql, a grant
 * deleted, all travel PostgreSQL → Debezium → Kafka → the invalidator's marker → Redis' push →
 * the settings service's Watch stream. Restarting the service in between loses nothing: the
 * watcher resumes from its last versions and gets what changed while it was away.
 */
jest.setTimeout(120_000);
let inv: RunningInvalidator;
let settings: LocalSettingsService;
/**
 * One port for both lives of the service (the watcher reconnects to it after the restart), one
 * the OS says is free: a random pick in 50000-59999 (Linux's ephemeral range) was once already
 * an outgoing connection's port in CI (EADDRINUSE).
 */
let port: number;

beforeAll(async () => {
  port = await freePort();
  inv = await startTestInvalidator();
  settings = await startLocalSettingsService({ GRPC_PORT: String(port), WATCH_PROGRESS_INTERVAL_MS: '500' });
});
afterAll(async () => {
  // Either may be missing when beforeAll failed; its error is the one to read.
  await settings?.stop();
  await inv?.stop();
});

it('keeps a local copy coherent with gRPC and psql writes, grant deletes and a TRUNCATE, and resumes across a service restart without losing a change', async () => {
  const { account, name } = await settings.newAccount('watched');
  const grpc = new SettingsServiceClient(`127.0.0.1:${port}`, credentials.createInsecure());
  const call = <T>(fn: (cb: (err: Error | null, res?: T) => void) => void): Promise<T> => new Promise((resolve, reject) => fn((err, res) => (err ? reject(err) : resolve(res!))));
  const grant = (staff: string): Promise<StaffPermission> =>
    call((cb) => grpc.createStaffPermission({ parent: `accounts/${account}`, staffPermissionId: staff, staffPermission: StaffPermission.fromPartial({ role: Role.ROLE_ADMIN }) }, cb));
  await grant('s1');
  const cache = await clinicSettingsCache(`127.0.0.1:${port}`, 'insecure-dev ignores it', account);
  try {
    expect(cache.timeZone()).toBe('UTC');
    expect(cache.grants()).toEqual([`accounts/${account}/staffPermissions/s1`]);

    await settings.update({ accountSettings: AccountSettings.fromPartial({ name, timeZone: 'Europe/Berlin' }), updateMask: ['time_zone'], allowMissing: false });
    await waitFor(async () => cache.timeZone() === 'Europe/Berlin', 20_000, 'gRPC update pushed');
    await sql("UPDATE account_settings SET time_zone = 'Asia/Tokyo' WHERE account_id = $1", [account]);
    await waitFor(async () => cache.timeZone() === 'Asia/Tokyo', 20_000, 'psql update pushed');
    await grant('s2');
    await call((cb) => grpc.deleteStaffPermission({ name: `accounts/${account}/staffPermissions/s1`, etag: '' }, cb));
    await waitFor(async () => cache.grants().join() === `accounts/${account}/staffPermissions/s2`, 20_000, 'grant create and delete pushed');

    // A TRUNCATE of the grant table (as in evicts-on-change.test.ts: the table is shared, the
    // suites run one at a time) empties the list without bumping its version; the invalidator's
    // new generation makes the watcher re-read it.
    await sql('TRUNCATE staff_permissions');
    await waitFor(async () => cache.grants().length === 0, 20_000, 'TRUNCATE pushed');

    // The service goes away; a change is made meanwhile; a new service comes up on the same port.
    const connectsBefore = cache.watch.connects;
    await settings.server.stop();
    await sql("UPDATE account_settings SET time_zone = 'America/Chicago' WHERE account_id = $1", [account]);
    const again = await startLocalSettingsService({ GRPC_PORT: String(port), WATCH_PROGRESS_INTERVAL_MS: '500' });
    try {
      await waitFor(async () => cache.timeZone() === 'America/Chicago', 30_000, 'change made while the service was down');
      expect(cache.watch.connects).toBeGreaterThan(connectsBefore);
    } finally {
      await again.stop();
    }
  } finally {
    cache.close();
    grpc.close();
    await sql('DELETE FROM staff_permissions WHERE account_id = $1', [account]);
    await sql('DELETE FROM staff_permission_lists WHERE account_id = $1', [account]);
  }
});
