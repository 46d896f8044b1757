import Redis from 'ioredis';
import { cacheKeys } from '@settings/shared';
import { startRedisFailoverCluster, type RedisFailoverCluster } from '@settings/local-stack';
import type { RunningInvalidator } from '../../src/invalidator';
import { accountSettingsVersion, fencedAtLeast, readCache, sql, startTestInvalidator, waitFor } from '../support/test-invalidator';

/**
 * README, Redis Cluster and failure modes (a Redis connection gone silent), on a real cluster:
 * three masters (and a replica) that this test starts for itself, each reached through a fault
 * proxy whose port the node announces, so the client's slot map names the proxies. One master's
 * proxy silences every client connection through it (nothing closed; the cluster bus is direct,
 * so the cluster notices nothing). The change's eviction times out on that master and pauses the
 * consumer; the health probe, which writes to every master, must then replace its connections
 * (each node's is closed and the slot refresh connects again), and the change held meanwhile is
 * evicted on that master, with the consumer resumed.
 */
jest.setTimeout(120_000);
let cluster: RedisFailoverCluster | undefined;
/** A plain client of the silenced master, straight to its port: reads the key it serves. */
let direct: Redis | undefined;
let inv: RunningInvalidator | undefined;
let account: string | undefined;

beforeAll(async () => {
  cluster = await startRedisFailoverCluster({ behindProxies: true });
  direct = new Redis(cluster.master, '127.0.0.1', { maxRetriesPerRequest: 1 });
  inv = await startTestInvalidator({ REDIS_CLUSTER_NODES: cluster.nodes, REDIS_COMMAND_TIMEOUT_MS: '300' });
});
afterAll(async () => {
  // The cluster's redis-server processes are detached: removed whatever else fails.
  try {
    await inv?.stop();
    direct?.disconnect();
    if (account) await sql('DELETE FROM account_settings WHERE account_id = $1', [account]);
  } finally {
    await cluster?.remove();
  }
});

it("a master's connection gone silent is replaced: the consumer resumes and the change held meanwhile is evicted on that master", async () => {
  account = cluster!.idWithKeyOn(cluster!.master, 'silent-node', (id) => cacheKeys.accountSettings(id).key);
  const key = cacheKeys.accountSettings(account).key;
  await sql('INSERT INTO account_settings (account_id) VALUES ($1)', [account]);
  await waitFor(async () => fencedAtLeast(await readCache(direct!, key), await accountSettingsVersion(account!)), 30_000, 'the insert evicted');

  expect(cluster!.proxyOf(cluster!.master).silence(() => true)).toBeGreaterThanOrEqual(1);
  await sql("UPDATE account_settings SET display_name = 'after the silence' WHERE account_id = $1", [account]);
  const version = await accountSettingsVersion(account);
  const since = Date.now();
  // Its eviction times out on the silent master's connection (before the probe replaces it): paused.
  await waitFor(() => inv!.consumer.paused, 15_000, 'the consumer paused');
  await waitFor(async () => fencedAtLeast(await readCache(direct!, key), version), 45_000, 'the change evicted through a new connection');
  process.stderr.write(`[measure] master silenced → evicted: ${Date.now() - since} ms\n`);
  await waitFor(() => !inv!.consumer.paused, 10_000, 'the consumer resumed');
  expect((await inv!.metrics.redisSilentResets.get()).values.find((v) => v.labels.connection === 'evictions')?.value).toBeGreaterThanOrEqual(1);
});
