import Redis from 'ioredis';
import { AccountSettings } from '@settings/api';
import { cacheKeys, localRedisUrl, withCacheScripts } from '@settings/shared';
import { accountsDeletedAfterAll, db, metricValue, serverForTests, waitFor } from '../support/test-server';
import { withTrackingHeldOff } from '../support/tracking-held-off';

/**
 * The near-cache (L1) against the real Redis: it serves only what Redis holds. An entry goes as
 * soon as Redis reports its key changed (the invalidator's marker), the whole L1 goes and is
 * bypassed while tracking is lost, and a Redis reply that raced an invalidation is not installed.
 * Markers are written with the invalidator's own script (evictToMarker), as the invalidator does
 * after a row change; the row change itself is a psql UPDATE.
 */
const admin = withCacheScripts(new Redis(localRedisUrl, { maxRetriesPerRequest: 1 }));
const newAccount = accountsDeletedAfterAll();
afterAll(() => admin.disconnect());

let raceKey = '';
let onRace: (() => Promise<void>) | undefined;
const t = serverForTests(
  {},
  {
    readThroughHooks: {
      async afterLookup(keys) {
        if (keys.includes(raceKey) && onRace) {
          const run = onRace;
          onRace = undefined;
          await run();
        }
      },
    },
  },
);

const near = () => t.running.nearCache!;
const l1Hits = () => metricValue(t.running, 'settings_near_cache_requests_total', { space: 'account-settings', result: 'hit' });

async function seeded(displayName: string): Promise<{ name: string; key: string; etag: string; account: string }> {
  const account = newAccount();
  const name = `accounts/${account}/settings`;
  const written = await t.call('updateAccountSettings', { accountSettings: AccountSettings.fromPartial({ name, displayName }), allowMissing: true });
  return { name, key: cacheKeys.accountSettings(account).key, etag: written.etag, account };
}

/** Reads until a read is served by L1 (first: miss + fill; second: Redis hit installs; third: L1). */
async function warmL1(name: string): Promise<void> {
  for (let i = 0; i < 10; i++) {
    const before = await l1Hits();
    await t.call('getAccountSettings', { name });
    if ((await l1Hits()) > before) return;
  }
  throw new Error('never served from the near-cache');
}

/** A change from outside the service (psql UPDATE), then the invalidator's marker for it; resolves once L1 heard of it. */
async function changeAndMark(s: { account: string; key: string }, displayName: string): Promise<void> {
  const [row] = await db(`UPDATE account_settings SET display_name = $2 WHERE account_id = $1 RETURNING version`, [s.account, displayName]);
  const changed = near().cache.waitForChange(s.key, 5000);
  expect(await admin.evictToMarker(s.key, String(row!.version), 60_000)).toBe(1);
  await changed;
}

beforeAll(async () => {
  expect(await near().tracking.waitOn(5000)).toBe(true);
});

it('is on by default and serves repeated Gets without Redis', async () => {
  const s = await seeded('a');
  await warmL1(s.name);
  const before = await l1Hits();
  for (let i = 0; i < 5; i++) expect((await t.call('getAccountSettings', { name: s.name })).displayName).toBe('a');
  expect(await l1Hits()).toBe(before + 5);
  expect(await metricValue(t.running, 'settings_near_cache_tracking')).toBe(1);
});

it('drops an entry when its marker appears: a default Get right after it sees the new row, never the L1 copy', async () => {
  const s = await seeded('old');
  await warmL1(s.name);
  expect(near().cache.get('account-settings', s.key)).toBeDefined();

  // A change from outside the service (psql), then the invalidator's marker for it.
  await changeAndMark(s, 'new');
  expect(near().cache.get('account-settings', s.key)).toBeUndefined();
  expect((await t.call('getAccountSettings', { name: s.name })).displayName).toBe('new');
});

it('drops every entry when the tracking subscriber connection is killed, bypasses L1 until tracking is back, then serves from L1 again', async () => {
  const s = await seeded('x');
  await warmL1(s.name);
  const flushesBefore = await metricValue(t.running, 'settings_near_cache_invalidations_total', { reason: 'flush' });
  expect(String(await admin.client('LIST', 'ID', near().tracking.redirectId!))).toMatch(/ sub=1 /);

  await withTrackingHeldOff(admin, near().tracking, async () => {
    // L1 emptied the moment tracking was lost.
    expect(near().cache.size.entries).toBe(0);
    expect(await metricValue(t.running, 'settings_near_cache_invalidations_total', { reason: 'flush' })).toBeGreaterThan(flushesBefore);
    // While off, reads are still answered (from Redis), never from L1, and nothing is installed.
    const offBefore = await metricValue(t.running, 'settings_near_cache_requests_total', { result: 'off' });
    const hitsBefore = await l1Hits();
    for (let i = 0; i < 3; i++) expect((await t.call('getAccountSettings', { name: s.name })).displayName).toBe('x');
    expect(await metricValue(t.running, 'settings_near_cache_requests_total', { result: 'off' })).toBe(offBefore + 3);
    expect(await l1Hits()).toBe(hitsBefore);
    expect(near().cache.size.entries).toBe(0);
  });
  // Tracking is back on the new subscriber: a change is still seen through L1.
  await warmL1(s.name);
  await changeAndMark(s, 'y');
  expect((await t.call('getAccountSettings', { name: s.name })).displayName).toBe('y');
});

it('empties L1 or turns tracking off when the data connection is killed, and re-issues CLIENT TRACKING after the silent reconnect', async () => {
  const s = await seeded('d1');
  await warmL1(s.name);
  const dataId = String(await t.running.redis.client('ID'));
  await admin.client('KILL', 'ID', dataId);
  await waitFor(() => near().cache.size.entries === 0 || near().tracking.state === 'off', 5000, 'L1 dropped');
  expect(await near().tracking.waitOn(10_000)).toBe(true);
  const newId = String(await t.running.redis.client('ID'));
  expect(newId).not.toBe(dataId);
  const info = String(await admin.client('LIST', 'ID', newId));
  expect(info).toMatch(/flags=\S*t/); // the reconnected data connection tracks again (flag t)
  await warmL1(s.name);
  await changeAndMark(s, 'd2');
  expect((await t.call('getAccountSettings', { name: s.name })).displayName).toBe('d2');
});

it('refuses to install a Redis reply when the invalidation of its key arrived while the reply was in flight', async () => {
  const s = await seeded('before');
  // Fill Redis (miss + fill), so the next lookup's MGET returns the entry.
  await t.call('getAccountSettings', { name: s.name });
  await waitFor(async () => (await admin.getBuffer(s.key))?.subarray(0, 2).toString() === 'e|', 5000, 'filled');
  const refusedBefore = await metricValue(t.running, 'settings_near_cache_refused_installs_total');

  // Interleaving: the MGET reply (old entry) is in hand; before it is installed, the row changes,
  // the marker lands and its invalidation push arrives over the subscriber connection.
  raceKey = s.key;
  onRace = () => changeAndMark(s, 'after');
  // This read answers with what Redis returned before the change (like any read in flight)...
  expect((await t.call('getAccountSettings', { name: s.name })).displayName).toBe('before');
  // ...but did not put it into L1: the next read does not see 'before' again.
  expect(near().cache.get('account-settings', s.key)).toBeUndefined();
  expect(await metricValue(t.running, 'settings_near_cache_refused_installs_total')).toBe(refusedBefore + 1);
  expect((await t.call('getAccountSettings', { name: s.name })).displayName).toBe('after');
});

it('never serves an L1 entry older than the caller token, and fully_consistent never reads L1', async () => {
  const s = await seeded('t1');
  await warmL1(s.name);
  // A write whose marker has not landed yet (the test setup refuses a running stack invalidator): L1 and Redis still hold t1.
  const v2 = await t.call('updateAccountSettings', { accountSettings: AccountSettings.fromPartial({ name: s.name, displayName: 't2' }), allowMissing: false });
  // The t1 entry is in L1, so the unchanged hit count below is a refusal, not an empty L1.
  expect(near().cache.get('account-settings', s.key)).toBeDefined();
  const freshBefore = await l1Hits();
  const fresh = await t.call('getAccountSettings', { name: s.name, consistency: { requirement: { $case: 'atLeastAsFresh', value: v2.consistencyToken } } });
  expect(fresh.displayName).toBe('t2');
  expect(await l1Hits()).toBe(freshBefore);
  const hitsBefore = await l1Hits();
  const strong = await t.call('getAccountSettings', { name: s.name, consistency: { requirement: { $case: 'fullyConsistent', value: true } } });
  expect(strong.displayName).toBe('t2');
  expect(await l1Hits()).toBe(hitsBefore);
});
