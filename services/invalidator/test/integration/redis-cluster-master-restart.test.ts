import type { Cluster } from 'ioredis';
import { cacheKeys, keySlot, localStack, parseCacheValue, withCacheScripts } from '@settings/shared';
import { restartRedisClusterNode, stopRedisClusterNode, testRedisTopology } from '@settings/local-stack';
import { fencedAtLeast, sql, startTestInvalidator, testRedis, uniqueId, waitFor } from '../support/test-invalidator';
import type { RunningInvalidator } from '../../src/invalidator';

/**
 * A master of the Redis Cluster goes away while rows change, and comes back empty (no
 * persistence, a new run id). Without replicas the cluster refuses every command meanwhile. The
 * invalidator must pause (its probe writes on every master), keep retrying, and once the master
 * is back fence every changed key — including the keys of the master that lost everything —
 * so no fill of a version read before the changes can be stored afterwards.
 * Jest project `cluster` only.
 */
const onCluster = testRedisTopology() === 'cluster';
const suite = onCluster ? describe : describe.skip;
jest.setTimeout(180_000);

suite('a cluster master restarting empty under changes', () => {
  const N = 300;
  const prefix = uniqueId('mr');
  const accounts = Array.from({ length: N }, (_, i) => `${prefix}-${i}`);
  const victimPort = localStack.redisClusterPorts[1]!;
  const redis = testRedis() as Cluster;
  const scripts = withCacheScripts(testRedis() as Cluster);
  let inv: RunningInvalidator | undefined;

  afterAll(async () => {
    await restartRedisClusterNode(victimPort);
    await inv?.stop();
    redis.disconnect();
    scripts.disconnect();
    await sql('DELETE FROM account_settings WHERE account_id LIKE $1', [`${prefix}-%`]);
  });

  const versions = async (): Promise<Map<string, bigint>> =>
    new Map((await sql('SELECT account_id, version FROM account_settings WHERE account_id LIKE $1', [`${prefix}-%`])).map((r) => [r.account_id as string, BigInt(r.version as string)]));
  const fencedCount = async (want: Map<string, bigint>): Promise<number> => {
    const values = await Promise.all(accounts.map((a) => redis.getBuffer(cacheKeys.accountSettings(a).key).catch(() => null)));
    return accounts.filter((a, i) => fencedAtLeast(parseCacheValue(values[i]!), want.get(a)!)).length;
  };

  it('pauses while the cluster is down, and afterwards every changed key is fenced at its new version on every master', async () => {
    inv = await startTestInvalidator({ KAFKA_SESSION_TIMEOUT_MS: '30000', REDIS_PROBE_INTERVAL_MS: '200' });
    await sql('INSERT INTO account_settings (account_id) SELECT unnest($1::text[])', [accounts]);
    const inserted = await versions();
    await waitFor(async () => (await fencedCount(inserted)) === N, 60_000, 'insert markers');
    // The accounts spread over every master, the victim included.
    const onVictim = accounts.filter((a) => redis.slots[keySlot(cacheKeys.accountSettings(a).key)]![0] === `127.0.0.1:${victimPort}`);
    expect(onVictim.length).toBeGreaterThan(N / 10);

    await stopRedisClusterNode(victimPort);
    await sql(`UPDATE account_settings SET display_name = 'during outage' WHERE account_id LIKE $1`, [`${prefix}-%`]);
    const updated = await versions();
    await waitFor(() => inv!.consumer.paused, 30_000, 'consumer paused while a master is down');
    // The probe's write to the stopped master may still be waiting for its command timeout.
    await waitFor(() => !inv!.redisHealth.healthy, 10_000, 'health probe reports Redis unhealthy');

    await restartRedisClusterNode(victimPort);
    await waitFor(async () => (await fencedCount(updated)) === N, 90_000, 'every key fenced at its updated version');
    await waitFor(() => !inv!.consumer.paused, 10_000, 'consumer resumed');
    // A reader that loaded a row before the update cannot store it now, on any master.
    const stale = await Promise.all(accounts.map((a) => scripts.versionedFill(cacheKeys.accountSettings(a).key, inserted.get(a)!.toString(), '1', 60_000, Buffer.from('old'), 600_000)));
    expect(stale.filter((written) => written === 1)).toEqual([]);
  });
});

if (!onCluster) it('runs only in the jest project `cluster`', () => undefined);
