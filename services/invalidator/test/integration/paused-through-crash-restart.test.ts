import { cacheKeys } from '@settings/shared';
import type { Consumer } from 'kafkajs';
import { changeTopics, groupCaughtUp, localKafka, redisProcess, startRedis, withAdmin } from '@settings/local-stack';
import type { RunningInvalidator } from '../../src/invalidator';
import { fencedAtLeast, readCache, sql, startTestInvalidator, testRedis, uniqueId, waitFor } from '../support/test-invalidator';

/**
 * README, backpressure: "a consumer paused for Redis stays paused through the restart (paused
 * again on its join) until a healthy probe resumes it", with a real broker and a real Redis
 * outage. The consumer's crash is made in kafkajs (one fetch fails with "no broker available",
 * which kafkajs gives up on at once and calls a retriable crash), since a broker fault long
 * enough to exhaust kafkajs' retries would take minutes. A restarted consumer's group starts
 * with every partition unpaused: unless paused again before its first fetch it would fetch the
 * changes Redis cannot take and spin on them.
 */
jest.setTimeout(120_000);

// eslint-disable-next-line @typescript-eslint/no-require-imports -- an internal kafkajs module, untyped
const ConsumerGroup = require('kafkajs/src/consumer/consumerGroup') as { prototype: { fetch(this: { groupId: string; memberId: string | null }, nodeId: unknown): Promise<unknown> } };
// eslint-disable-next-line @typescript-eslint/no-require-imports -- kafkajs' error classes are not exported with their constructors
const { KafkaJSNoBrokerAvailableError } = require('kafkajs/src/errors') as { KafkaJSNoBrokerAvailableError: new () => Error };

const realFetch = ConsumerGroup.prototype.fetch;
/** The group member id of the consumer whose next fetch fails (the invalidator's, not the test's member's). */
let failNextFetchOf = '';
const N = 20;
const prefix = uniqueId('pcr');
const accounts = Array.from({ length: N }, (_, i) => `${prefix}-${i}`);
let member: Consumer | undefined;
const groupMembers = (groupId: string): Promise<number> => withAdmin('test-pcr', async (admin) => (await admin.describeGroups([groupId])).groups[0]!.members.length);
let inv: (RunningInvalidator & { config: { KAFKA_GROUP_ID: string } }) | undefined;
/** Change events handed to the consumer's batches so far (counted again when redelivered). */
const consumed = async (): Promise<number> => (await inv!.metrics.eventsConsumed.get()).values.reduce((sum, v) => sum + v.value, 0);
const paused = async (): Promise<boolean> => (await inv!.metrics.paused.get()).values[0]?.value === 1;

beforeAll(async () => {
  ConsumerGroup.prototype.fetch = function (this: { groupId: string; memberId: string | null }, nodeId: unknown) {
    if (failNextFetchOf !== '' && this.memberId === failNextFetchOf) {
      failNextFetchOf = '';
      return Promise.reject(new KafkaJSNoBrokerAvailableError());
    }
    return realFetch.call(this, nodeId);
  };
  inv = await startTestInvalidator({ REDIS_COMMAND_TIMEOUT_MS: '500', KAFKA_SESSION_TIMEOUT_MS: '6000' });
  await sql('INSERT INTO account_settings (account_id) SELECT unnest($1::text[])', [accounts]);
});
afterAll(async () => {
  ConsumerGroup.prototype.fetch = realFetch;
  await member?.disconnect();
  if (!redisProcess.isRunning()) await startRedis(() => undefined);
  await inv?.stop();
  await sql('DELETE FROM account_settings WHERE account_id LIKE $1', [`${prefix}-%`]);
});

it('a consumer paused for Redis that crashes is restarted paused: it takes no change until Redis is back, then applies them all', async () => {
  const redis = testRedis();
  await waitFor(async () => (await readCache(redis, cacheKeys.accountSettings(accounts[N - 1]!).key)) !== undefined, 60_000, 'inserts applied');
  redis.disconnect();

  await redisProcess.stop();
  await sql("UPDATE account_settings SET display_name = 'during outage' WHERE account_id = ANY($1::text[])", [accounts]);
  await waitFor(paused, 20_000, 'consumer paused');

  // The paused batch retries inside itself; a rebalance (a member joining) abandons it, and the
  // consumer's next fetch is the one that fails: kafkajs disconnects, the invalidator restarts it.
  const consumer = inv!.consumer;
  failNextFetchOf = await withAdmin('test-pcr', async (admin) => (await admin.describeGroups([inv!.config.KAFKA_GROUP_ID])).groups[0]!.members[0]!.memberId);
  member = localKafka('test-pcr-member').consumer({ groupId: inv!.config.KAFKA_GROUP_ID, sessionTimeout: 6000, heartbeatInterval: 500, rebalanceTimeout: 10_000, maxWaitTimeInMs: 500 });
  await member.connect();
  await member.subscribe({ topics: [...changeTopics], fromBeginning: false });
  await member.run({ autoCommit: false, eachBatchAutoResolve: false, eachBatch: async () => undefined });
  await waitFor(() => failNextFetchOf === '', 30_000, 'the invalidator fetching again after the rebalance, and crashing');
  // Its restart comes 300 ms after the crash.
  const consumedAtCrash = await consumed();
  // The other member leaves: the restarted consumer owns every partition again.
  await member.disconnect();
  member = undefined;
  await waitFor(async () => consumer.joined && (await groupMembers(inv!.config.KAFKA_GROUP_ID)) === 1, 30_000, 'the restarted consumer alone in the group');
  expect(consumer.state).toBe('running');
  // Paused again on its join, before its first fetch: no event handed to it, nothing committed.
  await new Promise((r) => setTimeout(r, 3000));
  expect(await consumed()).toBe(consumedAtCrash);
  expect(await paused()).toBe(true);
  expect(await groupCaughtUp(inv!.config.KAFKA_GROUP_ID)).toBe(false);

  await startRedis(() => undefined);
  const after = testRedis();
  try {
    const versions = new Map<string, bigint>((await sql('SELECT account_id, version FROM account_settings WHERE account_id = ANY($1::text[])', [accounts])).map((r) => [r.account_id as string, BigInt(r.version as string)]));
    await waitFor(async () => {
      for (const a of accounts) if (!fencedAtLeast(await readCache(after, cacheKeys.accountSettings(a).key), versions.get(a)!)) return false;
      return true;
    }, 60_000, 'every key fenced at its current version');
    await waitFor(() => groupCaughtUp(inv!.config.KAFKA_GROUP_ID), 30_000, 'offsets committed to the end');
    expect(await paused()).toBe(false);
  } finally {
    after.disconnect();
  }
});
