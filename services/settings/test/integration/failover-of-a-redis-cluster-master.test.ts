import Redis from 'ioredis';
import { AccountSettings } from '@settings/api';
import { cacheKeys, withCacheScripts } from '@settings/shared';
import { startRedisFailoverCluster, type RedisFailoverCluster } from '@settings/local-stack';
import { db, deleteAccounts, metricValue, startTestServer, waitFor, type TestServer } from '../support/test-server';

/**
 * README, Redis Cluster (incarnation) and non-guarantee 31, on a real failover: a cluster of
 * three masters and one replica that this test starts for itself. The master of a key the
 * replica serves from its near-cache is frozen (SIGSTOP: its sockets stay open, it answers
 * nothing), the cluster promotes its replica, and the row changes with the invalidator's marker
 * landing on the promoted master. The settings replica must drop what it held from the frozen
 * master, renew every generation (a promoted replica may lack the old master's last markers),
 * and serve the new row within seconds, never the old one again.
 */
jest.setTimeout(120_000);
/** Accounts this file made (picked by the slot of their key, so not from accountsDeletedAfterAll). */
const made: string[] = [];
let cluster: RedisFailoverCluster | undefined;
/** A client of the master's replica: after the failover, the master of the key's slot. */
let promoted: ReturnType<typeof withCacheScripts> | undefined;
let t: TestServer | undefined;

beforeAll(async () => {
  cluster = await startRedisFailoverCluster();
  t = await startTestServer({ REDIS_CLUSTER_NODES: cluster.nodes, REDIS_COMMAND_TIMEOUT_MS: '300' });
  expect(await t.running.nearCache!.tracking.waitOn(15_000)).toBe(true);
  promoted = withCacheScripts(new Redis(cluster.replica, '127.0.0.1', { maxRetriesPerRequest: 1 }));
});
afterAll(async () => {
  await deleteAccounts(made);
  await t?.close();
  promoted?.disconnect();
  await cluster?.remove();
});

const l1Hits = (): Promise<number> => metricValue(t!.running, 'settings_near_cache_requests_total', { space: 'account-settings', result: 'hit' });
const displayNameOf = async (name: string): Promise<string> => (await t!.call('getAccountSettings', { name })).displayName;

it('a master frozen and failed over: the replica drops L1, renews every generation, and serves the change made on the promoted master within seconds', async () => {
  const account = cluster!.idWithKeyOn(cluster!.master, 'fo', (id) => cacheKeys.accountSettings(id).key);
  made.push(account);
  const name = `accounts/${account}/settings`;
  const key = cacheKeys.accountSettings(account).key;
  await t!.call('updateAccountSettings', { accountSettings: AccountSettings.fromPartial({ name, displayName: 'before' }), allowMissing: true });
  await waitFor(async () => {
    const before = await l1Hits();
    expect(await displayNameOf(name)).toBe('before');
    return (await l1Hits()) > before;
  }, 15_000, 'a read served from the near-cache');
  const renewed = await metricValue(t!.running, 'settings_cache_generations_renewed_total');

  cluster!.freeze(cluster!.master);
  await cluster!.waitPromoted(cluster!.replica);
  // The change, and its marker on the promoted master (the invalidator's script).
  const [row] = await db('UPDATE account_settings SET display_name = $2 WHERE account_id = $1 RETURNING version', [account, 'after']);
  expect(await promoted!.evictToMarker(key, String(row!.version), 60_000)).toBe(1);
  const markedAt = Date.now();

  // Reads may fail while the replica learns of the new topology (UNAVAILABLE), or answer from
  // PostgreSQL; once one answers 'after', none answers 'before' again.
  await waitFor(async () => (await displayNameOf(name).catch(() => 'failed')) === 'after', 15_000, "'after' served");
  process.stderr.write(`[measure] marker on the promoted master → 'after' served: ${Date.now() - markedAt} ms\n`);
  for (let i = 0; i < 20; i++) expect(await displayNameOf(name)).toBe('after');
  // The incarnation check runs again once the client's slot map names the promoted master (the
  // frozen one answers nothing until then): every generation renewed, the cache trusted again.
  await waitFor(async () => (await metricValue(t!.running, 'settings_cache_generations_renewed_total')) > renewed, 30_000, 'every generation renewed');
  expect(await t!.running.nearCache!.tracking.waitOn(15_000)).toBe(true);
  await waitFor(async () => {
    const before = await l1Hits();
    expect(await displayNameOf(name)).toBe('after');
    return (await l1Hits()) > before;
  }, 15_000, "'after' served from the near-cache again");
});
