import { cacheKeys, createLogger } from '@settings/shared';
import { redisProcess, startRedis } from '@settings/local-stack';
import { startInvalidator, type RunningInvalidator } from '../../src/invalidator';
import { fencedAtLeast, positionGroupAtEnd, readCache, sql, testConfig, testRedis, uniqueId, waitFor } from '../support/test-invalidator';

/**
 * The compound fault that used to stop invalidation for good:
 *   1. two replicas share a group; Redis dies while changes flow, so both pause consumption;
 *   2. a third replica joins and leaves: two rebalances abort the paused replicas' batches;
 *   3. Redis comes back.
 * Before, nothing resumed the topics (kafkajs keeps a pause across rebalances and only a
 * successful retry inside a batch resumed), so every later change stayed stale until the TTL.
 * Now a Redis health probe owns the pause and resumes when Redis answers again.
 */
jest.setTimeout(240_000);
const prefix = uniqueId('reb');
const accounts = Array.from({ length: 20 }, (_, i) => `${prefix}-${i}`);
const replicas: RunningInvalidator[] = [];

afterAll(async () => {
  if (!redisProcess.isRunning()) await startRedis(() => undefined);
  await Promise.all(replicas.map((r) => r.stop()));
  await sql('DELETE FROM account_settings WHERE account_id LIKE $1', [`${prefix}-%`]);
});

async function currentVersions(): Promise<Map<string, bigint>> {
  const rows = await sql('SELECT account_id, version FROM account_settings WHERE account_id = ANY($1::text[])', [accounts]);
  return new Map(rows.map((r) => [r.account_id as string, BigInt(r.version as string)]));
}

it('after a Redis outage spanning two rebalances, the replicas resume and evict every later change', async () => {
  const config = testConfig({ REDIS_COMMAND_TIMEOUT_MS: '300', KAFKA_SESSION_TIMEOUT_MS: '6000', KAFKA_REBALANCE_TIMEOUT_MS: '10000' });
  await positionGroupAtEnd(config.KAFKA_GROUP_ID);
  const log = createLogger('test-invalidator', config.LOG_LEVEL);
  for (let i = 0; i < 2; i++) replicas.push(await startInvalidator(config, log));
  await waitFor(() => replicas.every((r) => r.consumer.joined), 60_000, 'two replicas joined');
  await sql('INSERT INTO account_settings (account_id) SELECT unnest($1::text[])', [accounts]);

  // 1. Redis dies while changes flow: both replicas end up paused.
  await redisProcess.stop();
  for (let i = 0; i < 3; i++) {
    await sql("UPDATE account_settings SET display_name = 'outage ' || $2 WHERE account_id = ANY($1::text[])", [accounts, String(i)]);
    await new Promise((r) => setTimeout(r, 500));
  }
  await waitFor(() => replicas.some((r) => r.consumer.paused), 20_000, 'a replica paused for Redis');

  // 2. A third replica joins and leaves while Redis is still down.
  const third = await startInvalidator(config, log);
  await waitFor(() => third.consumer.joined, 60_000, 'third replica joined');
  await new Promise((r) => setTimeout(r, 2000));
  await third.stop();
  await new Promise((r) => setTimeout(r, 3000));

  // 3. Redis returns: every replica resumes within the client's reconnect backoff (≤ 2 s) plus
  // one probe period (README, "Paused only while Redis is unhealthy"), before any new change
  // could give a batch retry the chance to do it instead.
  const paused = replicas.filter((r) => r.consumer.paused).length;
  expect(paused).toBeGreaterThan(0);
  await startRedis(() => undefined);
  const back = Date.now();
  // Slack of 3 s for this busy test process (two replicas' timers, the client's ready check;
  // 2.6 s measured in one CI run): still well short of the next change a batch retry could use.
  await waitFor(() => replicas.every((r) => !r.consumer.paused), 2_000 + config.REDIS_PROBE_INTERVAL_MS + 3_000, 'every replica resumed within the reconnect backoff plus one probe period');
  process.stderr.write(`[measure] Redis back → ${paused} paused replica(s) resumed: ${Date.now() - back} ms\n`);
  // Later psql changes must be evicted without any further help.
  await sql("UPDATE account_settings SET display_name = 'after outage' WHERE account_id = ANY($1::text[])", [accounts]);
  const versions = await currentVersions();
  const redis = testRedis();
  try {
    await waitFor(
      async () => {
        for (const a of accounts) if (!fencedAtLeast(await readCache(redis, cacheKeys.accountSettings(a).key), versions.get(a)!)) return false;
        return true;
      },
      60_000,
      'every key fenced at its current version',
    );
  } finally {
    redis.disconnect();
  }
  expect(replicas.every((r) => !r.consumer.paused)).toBe(true);
});
