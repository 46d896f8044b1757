import { Redis } from 'ioredis';
import { Partitioners } from 'kafkajs';
import { CACHED_TABLES, cacheKeys, changeTopic, createLogger, localRedisUrl } from '@settings/shared';
import { deleteGroups, groupCaughtUp, localKafka, positionGroupAtEnd, withAdmin } from '@settings/local-stack';
import { startInvalidator, type RunningInvalidator } from '../../src/invalidator';
import { deleteKeys, fencedAtLeast, readCache, startTestInvalidator, testConfig, testRedis, uniqueId, waitFor } from '../support/test-invalidator';

/**
 * The progress watchdog end to end (README failure modes: "consumer wedged"): a replica whose
 * Redis takes the health probe's write but refuses every eviction has lag, a healthy Redis and
 * commits nothing. Its `/healthz` must fail after LIVENESS_STALL_SECONDS, so Kubernetes restarts
 * it, and the replica that replaces it must evict everything the wedged one never committed.
 *
 * The wedge is a real one: a Redis ACL user without the scripting commands (a misconfigured
 * ACL), which lets the probe's SET through and refuses the eviction scripts with NOPERM.
 *
 * Both replicas consume change topics of their own (KAFKA_TOPIC_PREFIX), into which the test
 * writes Debezium-shaped change events itself: on the shared topics, a change of another test
 * arriving between the group's positioning and the test's changes started the stall clock early,
 * and /healthz failed sooner after the test's changes than the watchdog allows.
 */
jest.setTimeout(120_000);
const prefix = uniqueId('wedge');
const accounts = Array.from({ length: 20 }, (_, i) => `${prefix}-${i}`);
const keys = accounts.map((a) => cacheKeys.accountSettings(a).key);
/** The version of every change event the test writes (no rows: the events are synthetic). */
const VERSION = 4242n;
const topicPrefix = uniqueId('test-wedge-');
const topics = CACHED_TABLES.map((t) => changeTopic(topicPrefix, t));
const groups: string[] = [];
const aclUser = uniqueId('wedged-invalidator-');
const aclPassword = uniqueId('pw-');
const admin = new Redis(localRedisUrl);
const producer = localKafka('wedged-replica-test').producer({ createPartitioner: Partitioners.DefaultPartitioner });
const running: RunningInvalidator[] = [];

const redisUrlAsAclUser = (): string => {
  const url = new URL(localRedisUrl);
  url.username = aclUser;
  url.password = aclPassword;
  return url.toString();
};
const healthz = async (port: number): Promise<number> => (await fetch(`http://127.0.0.1:${port}/healthz`)).status;

beforeAll(async () => {
  await admin.call('ACL', 'SETUSER', aclUser, 'on', `>${aclPassword}`, '~*', '&*', '+@all', '-@scripting');
  await producer.connect();
});
afterAll(async () => {
  for (const r of running) await r.stop();
  await admin.call('ACL', 'DELUSER', aclUser);
  admin.disconnect();
  await producer.disconnect();
  const redis = testRedis();
  await deleteKeys(redis, keys);
  redis.disconnect();
  await withAdmin('wedged-replica-test', (kafka) => kafka.deleteTopics({ topics }).catch(() => undefined));
  await deleteGroups(groups);
});

/** One insert per account into the test's own account_settings change topic, spread over its partitions by key as Debezium does. */
async function produceInserts(): Promise<void> {
  const now = Date.now();
  await producer.send({
    topic: changeTopic(topicPrefix, 'account_settings'),
    messages: accounts.map((account) => ({
      key: JSON.stringify({ account_id: account }),
      value: JSON.stringify({ op: 'c', before: null, after: { account_id: account, version: Number(VERSION) }, source: { schema: 'public', table: 'account_settings', ts_ms: now }, ts_ms: now }),
    })),
  });
}

it('a replica that commits nothing while Redis is healthy fails /healthz after LIVENESS_STALL_SECONDS, and the replica that replaces it evicts every change it left', async () => {
  const overrides = { LOG_LEVEL: 'error', REDIS_URL: redisUrlAsAclUser(), LIVENESS_STALL_SECONDS: '10', PROGRESS_CHECK_INTERVAL_MS: '500', KAFKA_TOPIC_PREFIX: topicPrefix };
  // The group starts with offsets committed on every partition of its topics (their empty ends),
  // as on the shared ones: "caught up" then means every partition, written to or not.
  const groupId = uniqueId('test-invalidator-');
  groups.push(groupId);
  await positionGroupAtEnd(groupId, { topics });
  const wedged = await startTestInvalidator({ ...overrides, KAFKA_GROUP_ID: groupId });
  running.push(wedged);
  expect(await healthz(wedged.httpPort)).toBe(200);

  const changedAt = Date.now();
  await produceInserts();
  await waitFor(async () => (await healthz(wedged.httpPort)) === 503, 60_000, '/healthz 503 on the wedged replica');
  // Not before the stall: lag appeared only once the inserts were written (nothing else writes
  // to these topics). The watchdog's clock starts at the start of its last check that saw no
  // lag, which may have begun up to a check interval (500 ms) plus that check's own time before.
  expect(Date.now() - changedAt).toBeGreaterThanOrEqual(10_000 - 1_500);
  // Wedged, not paused for a Redis outage: the probe's write succeeds, the evictions do not.
  expect(wedged.redisHealth.healthy).toBe(true);
  expect(await wedged.metrics.registry.getSingleMetricAsString('invalidator_redis_errors_total')).not.toMatch(/invalidator_redis_errors_total 0$/m);
  expect(await groupCaughtUp(wedged.config.KAFKA_GROUP_ID, topics)).toBe(false);

  // Kubernetes restarts the container; meanwhile the ACL is mended. The new replica joins the
  // same group at its committed offsets, before the inserts: the changes are delivered again.
  await wedged.stop();
  running.pop();
  await admin.call('ACL', 'SETUSER', aclUser, '+@scripting');
  const config = testConfig({ ...overrides, KAFKA_GROUP_ID: wedged.config.KAFKA_GROUP_ID });
  const replacement = await startInvalidator(config, createLogger('test-invalidator', config.LOG_LEVEL));
  running.push(replacement);

  const redis = testRedis();
  try {
    await waitFor(async () => {
      for (const key of keys) if (!fencedAtLeast(await readCache(redis, key), VERSION)) return false;
      return true;
    }, 60_000, 'every inserted account fenced by the replacement');
    await waitFor(() => groupCaughtUp(config.KAFKA_GROUP_ID, topics), 30_000, 'offsets committed to the end');
    expect(await healthz(replacement.httpPort)).toBe(200);
  } finally {
    redis.disconnect();
  }
});
