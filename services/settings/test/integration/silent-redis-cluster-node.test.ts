import Redis from 'ioredis';
import { AccountSettings } from '@settings/api';
import { cacheKeys, withCacheScripts } from '@settings/shared';
import { startRedisFailoverCluster, type RedisFailoverCluster } from '@settings/local-stack';
import { db, deleteAccounts, metricValue, startTestServer, waitFor, type TestServer } from '../support/test-server';

/**
 * README, Redis Cluster and failure modes (a data connection gone silent), on a real cluster:
 * three masters (and a replica) that this test starts for itself, each reached through a fault
 * proxy whose port the node announces, so the client's slot map names the proxies. One master's
 * proxy then silences every client connection through it (nothing closed, the cluster itself
 * notices nothing: its bus is direct). A replica without the near-cache (every read asks Redis)
 * must close that master's connection (its PING heartbeat), connect to it again (the slot
 * refresh) and read from Redis again within seconds, with the same servers behind them: no
 * generation renewed. Counting the reads' own round trips never replaced it: once the
 * incarnation check had timed out on the silent master no read went to Redis, and every read
 * went to PostgreSQL for good.
 *
 * Then non-guarantee 18 on a cluster: a replica serving a key from its near-cache whose tracking
 * connection to that key's master goes silent (its pushes lost, nothing closed) notices within
 * about a second (a PING per master per second) and stops serving the entry a lost push would
 * have dropped.
 */
jest.setTimeout(120_000);
/** Accounts this file made (picked by the slot of their key, so not from accountsDeletedAfterAll). */
const made: string[] = [];
let cluster: RedisFailoverCluster | undefined;
let t: TestServer | undefined;
/** The near-cache case's replica, started by that case (the first one silences every connection to the master). */
let l1: TestServer | undefined;

beforeAll(async () => {
  cluster = await startRedisFailoverCluster({ behindProxies: true });
  t = await startTestServer({ REDIS_CLUSTER_NODES: cluster.nodes, NEAR_CACHE_ENABLED: 'false', REDIS_COMMAND_TIMEOUT_MS: '300', REDIS_BREAKER_OPEN_MS: '500' });
});
afterAll(async () => {
  // The cluster's redis-server processes are detached: removed whatever else fails.
  try {
    await deleteAccounts(made);
    await Promise.allSettled([t?.close(), l1?.close()]);
  } finally {
    await cluster?.remove();
  }
});

const hits = (): Promise<number> => metricValue(t!.running, 'settings_cache_requests_total', { space: 'account-settings', result: 'hit' });
const renewed = (): Promise<number> => metricValue(t!.running, 'settings_cache_generations_renewed_total');

/** Reads until one is counted as a Redis hit; every read answers `displayName` (from PostgreSQL meanwhile). */
async function servedFromRedis(name: string, displayName: string, timeoutMs: number, what: string): Promise<void> {
  await waitFor(async () => {
    const before = await hits();
    expect((await t!.call('getAccountSettings', { name })).displayName).toBe(displayName);
    return (await hits()) > before;
  }, timeoutMs, what);
}

it("a master's connection gone silent is replaced: reads are served from Redis again within seconds, and no generation is renewed", async () => {
  const account = cluster!.idWithKeyOn(cluster!.master, 'silent-node', (id) => cacheKeys.accountSettings(id).key);
  made.push(account);
  const name = `accounts/${account}/settings`;
  await t!.call('updateAccountSettings', { accountSettings: AccountSettings.fromPartial({ name, displayName: 'cached' }), allowMissing: true });
  await servedFromRedis(name, 'cached', 15_000, 'a read served from Redis');
  const renewedBefore = await renewed();

  expect(cluster!.proxyOf(cluster!.master).silence(() => true)).toBeGreaterThanOrEqual(1);
  const since = Date.now();
  await servedFromRedis(name, 'cached', 30_000, 'a read served from Redis again');
  process.stderr.write(`[measure] master silenced → served from Redis again: ${Date.now() - since} ms\n`);
  expect(await metricValue(t!.running, 'settings_redis_silent_connection_resets_total')).toBeGreaterThanOrEqual(1);
  expect(await metricValue(t!.running, 'settings_redis_circuit_open')).toBe(0);

  // Recovered for good, on the same servers: every read for the next seconds (the heartbeat and
  // the slot refresh keep running) is a Redis hit, and no generation was renewed.
  const hitsBefore = await hits();
  for (let i = 0; i < 20; i++) {
    expect((await t!.call('getAccountSettings', { name })).displayName).toBe('cached');
    await new Promise((r) => setTimeout(r, 250));
  }
  expect((await hits()) - hitsBefore).toBe(20);
  expect(await renewed()).toBe(renewedBefore);
});

it("a tracking connection to one master gone silent: its missed PING drops the near-cache, so a change whose push was lost is served within 3.3 s", async () => {
  const COMMAND_TIMEOUT_MS = 300;
  l1 = await startTestServer({ REDIS_CLUSTER_NODES: cluster!.nodes, REDIS_COMMAND_TIMEOUT_MS: String(COMMAND_TIMEOUT_MS) });
  expect(await l1.running.nearCache!.tracking.waitOn(15_000)).toBe(true);
  const account = cluster!.idWithKeyOn(cluster!.master, 'silent-tracker', (id) => cacheKeys.accountSettings(id).key);
  made.push(account);
  const name = `accounts/${account}/settings`;
  const key = cacheKeys.accountSettings(account).key;
  const l1Hits = (): Promise<number> => metricValue(l1!.running, 'settings_near_cache_requests_total', { space: 'account-settings', result: 'hit' });
  const displayNameOf = async (): Promise<string> => (await l1!.call('getAccountSettings', { name })).displayName;
  await l1.call('updateAccountSettings', { accountSettings: AccountSettings.fromPartial({ name, displayName: 'before' }), allowMissing: true });
  await waitFor(async () => {
    const before = await l1Hits();
    expect(await displayNameOf()).toBe('before');
    return (await l1Hits()) > before;
  }, 15_000, 'a read served from the near-cache');

  // Only the tracking connection (it subscribed to the invalidation channel); the data
  // connections keep working, so nothing but the heartbeat can tell.
  expect(cluster!.proxyOf(cluster!.master).silence((sent) => sent.includes('__redis__:invalidate'))).toBe(1);
  const marker = withCacheScripts(new Redis(cluster!.master, '127.0.0.1', { maxRetriesPerRequest: 1 }));
  try {
    const [row] = await db('UPDATE account_settings SET display_name = $2 WHERE account_id = $1 RETURNING version', [account, 'after']);
    expect(await marker.evictToMarker(key, String(row!.version), 60_000)).toBe(1);
  } finally {
    marker.disconnect();
  }
  const since = Date.now();
  await waitFor(async () => (await displayNameOf()) === 'after', 15_000, "'after' served");
  const ms = Date.now() - since;
  process.stderr.write(`[measure] tracking connection silenced, change marked → 'after' served: ${ms} ms\n`);
  // A PING every second, failing after the command timeout, then the connection dropped (at
  // most 200 ms: disconnectTimeout), the near-cache off and a read of Redis; 1.8 s of margin for
  // timers late on a busy machine.
  expect(ms).toBeLessThanOrEqual(1000 + COMMAND_TIMEOUT_MS + 200 + 1800);
  for (let i = 0; i < 10; i++) expect(await displayNameOf()).toBe('after');
  // Tracking is back on a new connection to that master.
  expect(await l1.running.nearCache!.tracking.waitOn(15_000)).toBe(true);
});
