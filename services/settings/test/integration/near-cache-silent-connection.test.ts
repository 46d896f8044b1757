import Redis from 'ioredis';
import { AccountSettings } from '@settings/api';
import { cacheKeys, localRedisUrl, localStack, withCacheScripts } from '@settings/shared';
import { startFaultProxy, type FaultProxy } from '@settings/local-stack';
import { accountsDeletedAfterAll, db, metricValue, startTestServer, waitFor, type TestServer } from '../support/test-server';

/**
 * README non-guarantee 18: a tracking connection that dies without closing is noticed within
 * about a second. The replica reaches the real Redis through a proxy that can make one of its
 * connections go silent (no byte either way, nothing closed: a NAT or firewall that dropped the
 * flow). Its L1 serves a hot entry without any Redis command, so only the once-a-second checks
 * (the subscriber's PING, the data connection's CLIENT TRACKINGINFO) can tell that the pushes
 * stopped; until one fails, the entry a lost push would have dropped is still served.
 */
jest.setTimeout(60_000);
const COMMAND_TIMEOUT_MS = 300;
/** A PING or TRACKINGINFO every second, failing after the command timeout, then the reconnect. */
const NOTICED_WITHIN_MS = 1000 + COMMAND_TIMEOUT_MS + 2000;

const admin = withCacheScripts(new Redis(localRedisUrl, { maxRetriesPerRequest: 1 }));
const newAccount = accountsDeletedAfterAll();
let proxy: FaultProxy | undefined;
let t: TestServer | undefined;

beforeAll(async () => {
  proxy = await startFaultProxy(localStack.redisPort);
  t = await startTestServer({ REDIS_URL: `redis://127.0.0.1:${proxy.port}`, REDIS_COMMAND_TIMEOUT_MS: String(COMMAND_TIMEOUT_MS) });
  expect(await t.running.nearCache!.tracking.waitOn(10_000)).toBe(true);
});
afterAll(async () => {
  await t?.close();
  await proxy?.close();
  admin.disconnect();
});

const l1Hits = (): Promise<number> => metricValue(t!.running, 'settings_near_cache_requests_total', { space: 'account-settings', result: 'hit' });
const displayNameOf = async (name: string): Promise<string> => (await t!.call('getAccountSettings', { name })).displayName;

/** An account whose entry the replica serves from L1. */
async function servedFromL1(displayName: string): Promise<{ account: string; name: string; key: string }> {
  const account = newAccount();
  const name = `accounts/${account}/settings`;
  await t!.call('updateAccountSettings', { accountSettings: AccountSettings.fromPartial({ name, displayName }), allowMissing: true });
  await waitFor(async () => {
    const before = await l1Hits();
    await displayNameOf(name);
    return (await l1Hits()) > before;
  }, 10_000, 'a read served from the near-cache');
  return { account, name, key: cacheKeys.accountSettings(account).key };
}

/** A psql UPDATE, then the invalidator's marker for it (its own script, from another connection). */
async function changeAndMark(s: { account: string; key: string }, displayName: string): Promise<void> {
  const [row] = await db('UPDATE account_settings SET display_name = $2 WHERE account_id = $1 RETURNING version', [s.account, displayName]);
  expect(await admin.evictToMarker(s.key, String(row!.version), 60_000)).toBe(1);
}

/** Reads until the new value is served; how long that took after the change. */
async function msUntilServed(name: string, displayName: string): Promise<number> {
  const since = Date.now();
  await waitFor(async () => (await displayNameOf(name)) === displayName, 15_000, `'${displayName}' served`);
  return Date.now() - since;
}

it('a subscriber connection gone silent: its missed PING drops L1 and reconnects it, so a change whose push was lost is served within 3.3 s', async () => {
  const s = await servedFromL1('before');
  const flushes = await metricValue(t!.running, 'settings_near_cache_invalidations_total', { reason: 'flush' });
  expect(proxy!.silence((sent) => sent.includes('__redis__:invalidate'))).toBe(1);
  await changeAndMark(s, 'after');
  expect(await msUntilServed(s.name, 'after')).toBeLessThanOrEqual(NOTICED_WITHIN_MS);
  expect(await metricValue(t!.running, 'settings_near_cache_invalidations_total', { reason: 'flush' })).toBeGreaterThan(flushes);
  // Tracking is back on a new subscriber: the next change is pushed again.
  expect(await t!.running.nearCache!.tracking.waitOn(10_000)).toBe(true);
  await servedFromL1('after');
});

it('a data connection gone silent while Redis freed it (its tracking ended): the failed CLIENT TRACKINGINFO drops L1, so the change is served within 3.3 s', async () => {
  const s = await servedFromL1('before');
  const dataId = String(await t!.running.redis.client('ID'));
  expect(proxy!.silence((sent) => sent.includes('TRACKING'))).toBe(1);
  // Redis frees the client (as for an idle flow a middlebox dropped): its tracking, and the
  // pushes it redirected, end; the replica's socket stays open and hears nothing.
  await admin.client('KILL', 'ID', dataId);
  await changeAndMark(s, 'after');
  expect(await msUntilServed(s.name, 'after')).toBeLessThanOrEqual(NOTICED_WITHIN_MS);
  expect(await t!.running.nearCache!.tracking.waitOn(10_000)).toBe(true);
});
