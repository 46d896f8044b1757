import { cacheKeys } from '@settings/shared';
import { groupCaughtUp, redisProcess, startRedis, withAdmin } from '@settings/local-stack';
import { fencedAtLeast, readCache, sql, startTestInvalidator, testRedis, uniqueId, waitFor } from '../support/test-invalidator';
import type { RunningInvalidator } from '../../src/invalidator';

/**
 * Redis goes away for ~10 s while 1,000 rows change. The invalidator must pause, keep its
 * group membership, retry, and once Redis is back apply every eviction; its committed
 * offsets must reach the end of the topics only after that.
 */
jest.setTimeout(180_000);
let inv: RunningInvalidator & { config: { KAFKA_GROUP_ID: string } };
const N = 1000;
const prefix = uniqueId('out');
const accounts = Array.from({ length: N }, (_, i) => `${prefix}-${i}`);

beforeAll(async () => {
  // The shortest session the broker allows: a 10 s outage without heartbeats would lose the
  // membership (the group would drop the member and it would rejoin under another id).
  inv = await startTestInvalidator({ REDIS_COMMAND_TIMEOUT_MS: '500', KAFKA_SESSION_TIMEOUT_MS: '6000' });
  await sql('INSERT INTO account_settings (account_id) SELECT unnest($1::text[])', [accounts]);
});
afterAll(async () => {
  if (!redisProcess.isRunning()) await startRedis(() => undefined);
  await inv.stop();
  await sql('DELETE FROM account_settings WHERE account_id LIKE $1', [`${prefix}-%`]);
});

it('1,000 updates during a 10 s Redis outage: paused and not caught up while it lasts; after it returns every key is fenced at its current version and offsets reach the end', async () => {
  const redis = testRedis();
  // Let the inserts' evictions land first so the outage only holds the updates.
  await waitFor(async () => (await readCache(redis, cacheKeys.accountSettings(accounts[N - 1]!).key)) !== undefined, 60_000, 'inserts applied');
  redis.disconnect();
  const membersBefore = await groupMembers(inv.config.KAFKA_GROUP_ID);
  expect(membersBefore).toHaveLength(1);

  await redisProcess.stop();
  const outageStart = Date.now();
  for (let i = 0; i < 10; i++) {
    await sql("UPDATE account_settings SET display_name = 'during outage ' || $2 WHERE account_id = ANY($1::text[])", [accounts.slice(i * 100, (i + 1) * 100), String(i)]);
    await new Promise((r) => setTimeout(r, 1000));
  }
  // While Redis is down: paused, nothing committed past the unapplied updates.
  await waitFor(async () => (await inv.metrics.registry.getSingleMetricAsString('invalidator_consumer_paused')).includes('invalidator_consumer_paused 1'), 10_000, 'consumer paused');
  expect(await groupCaughtUp(inv.config.KAFKA_GROUP_ID)).toBe(false);
  // Still the same member of the group, by the broker's account: heartbeats went on.
  expect(await groupMembers(inv.config.KAFKA_GROUP_ID)).toEqual(membersBefore);

  await startRedis(() => undefined);
  process.stderr.write(`[measure] Redis down for ${Date.now() - outageStart} ms\n`);
  const after = testRedis();
  const versions = new Map<string, bigint>((await sql('SELECT account_id, version FROM account_settings WHERE account_id = ANY($1::text[])', [accounts])).map((r) => [r.account_id as string, BigInt(r.version as string)]));
  await waitFor(async () => {
    for (const a of accounts) if (!fencedAtLeast(await readCache(after, cacheKeys.accountSettings(a).key), versions.get(a)!)) return false;
    return true;
  }, 90_000, 'every key fenced at its current version');
  await waitFor(() => groupCaughtUp(inv.config.KAFKA_GROUP_ID), 30_000, 'offsets committed to the end');
  expect(await inv.metrics.registry.getSingleMetricAsString('invalidator_consumer_paused')).toContain('invalidator_consumer_paused 0');
  after.disconnect();
});

/** The group's member ids, as the broker reports them. */
function groupMembers(groupId: string): Promise<string[]> {
  return withAdmin('redis-outage-test', async (admin) => {
    const { groups } = await admin.describeGroups([groupId]);
    return (groups[0]?.members ?? []).map((m) => m.memberId).sort();
  });
}
