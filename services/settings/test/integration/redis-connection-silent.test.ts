import { AccountSettings } from '@settings/api';
import { localStack } from '@settings/shared';
import { startFaultProxy, type FaultProxy } from '@settings/local-stack';
import { accountsDeletedAfterAll, metricValue, startTestServer, waitFor, type TestServer } from '../support/test-server';

/**
 * A replica without the near-cache (NEAR_CACHE_ENABLED=false: no tracking heartbeat) whose Redis
 * data connection goes silent: no byte either way, nothing closed. Every read times out, the
 * breaker opens and reads go to PostgreSQL; its probe, every REDIS_BREAKER_OPEN_MS, meets the
 * same silence, and ioredis reconnects only on a close (TCP keepalive notices after hours). So
 * every read went to PostgreSQL for good: the incident's failure mode. The replica reaches the
 * real Redis through a proxy that silences its connection; a new connection passes.
 */
jest.setTimeout(60_000);
const newAccount = accountsDeletedAfterAll();
let proxy: FaultProxy | undefined;
let t: TestServer | undefined;

beforeAll(async () => {
  proxy = await startFaultProxy(localStack.redisPort);
  t = await startTestServer({ REDIS_URL: `redis://127.0.0.1:${proxy.port}`, NEAR_CACHE_ENABLED: 'false', REDIS_COMMAND_TIMEOUT_MS: '300', REDIS_BREAKER_OPEN_MS: '500' });
});
afterAll(async () => {
  await t?.close();
  await proxy?.close();
});

const hits = (): Promise<number> => metricValue(t!.running, 'settings_cache_requests_total', { space: 'account-settings', result: 'hit' });

it('replaces a data connection gone silent within seconds: the breaker closes and reads are served from Redis again', async () => {
  const account = newAccount();
  const name = `accounts/${account}/settings`;
  await t!.call('updateAccountSettings', { accountSettings: AccountSettings.fromPartial({ name, displayName: 'cached' }), allowMissing: true });
  await waitFor(async () => {
    const before = await hits();
    await t!.call('getAccountSettings', { name });
    return (await hits()) > before;
  }, 10_000, 'a read served from Redis');

  expect(proxy!.silence(() => true)).toBeGreaterThanOrEqual(1);
  const since = Date.now();
  // Reads keep being answered (from PostgreSQL while the breaker is open), then from Redis again.
  await waitFor(async () => {
    const before = await hits();
    expect((await t!.call('getAccountSettings', { name })).displayName).toBe('cached');
    return (await hits()) > before;
  }, 30_000, 'a read served from Redis again');
  process.stderr.write(`[measure] silenced → served from Redis again: ${Date.now() - since} ms\n`);
  expect(await metricValue(t!.running, 'settings_redis_circuit_open')).toBe(0);
  expect(await metricValue(t!.running, 'settings_redis_silent_connection_resets_total')).toBe(1);
});
