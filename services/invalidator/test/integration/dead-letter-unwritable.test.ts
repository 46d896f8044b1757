import { Partitioners, type Producer } from 'kafkajs';
import { cacheKeys, changeTopic, localStack } from '@settings/shared';
import { ensureChangeTopics, localKafka } from '@settings/local-stack';
import { readCache, startTestInvalidator, testRedis, uniqueId, waitFor } from '../support/test-invalidator';

/**
 * Readiness that notices what used to fail silently: a dead-letter topic that refuses writes
 * blocks its partition (offsets are committed only after the letter is published).
 */
jest.setTimeout(120_000);
const kafka = localKafka('health-test');
const accountTopic = changeTopic(localStack.topicPrefix, 'account_settings');

/**
 * Sends a change for a new account on partitions 1 and 2 each, as Debezium writes them, and
 * waits for both to be evicted (a marker in the cache) while partition 0 is held back.
 */
async function expectOtherPartitionsEvicted(producer: Producer, redis: ReturnType<typeof testRedis>, timeoutMs: number): Promise<void> {
  const accounts = [1, 2].map(() => uniqueId('after-poison-'));
  await producer.send({
    topic: accountTopic,
    messages: accounts.map((account, i) => ({
      partition: i + 1,
      key: JSON.stringify({ account_id: account }),
      value: Buffer.from(JSON.stringify({ op: 'u', before: null, after: { account_id: account, version: 77 }, source: { schema: 'public', table: 'account_settings', ts_ms: Date.now() }, ts_ms: Date.now() })),
    })),
  });
  for (const account of accounts) {
    await waitFor(async () => (await readCache(redis, cacheKeys.accountSettings(account).key))?.kind === 'marker', timeoutMs, `marker of ${account} while partition 0 is held back`);
  }
}

describe('dead-letter topic refusing writes (readiness)', () => {
  it('makes the replica not ready and logs one error naming the stuck partition and offset, without committing past the poison event; once writable, it is ready and moves on', async () => {
    const dlqTopic = uniqueId('missing-dlq-');
    // The replica's log lines, as an operator's log pipeline would receive them.
    const logLines: Array<Record<string, unknown>> = [];
    const inv = await startTestInvalidator({ DLQ_TOPIC: dlqTopic, KAFKA_CREATE_TOPICS: 'false', DLQ_MAX_ATTEMPTS: '1', LOG_LEVEL: 'info' }, { write: (line: string) => logLines.push(JSON.parse(line) as Record<string, unknown>) });
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    const readyz = async (): Promise<{ status: number; body: { detail?: { deadLetterFailing?: boolean } } }> => {
      const res = await fetch(`http://127.0.0.1:${inv.httpPort}/readyz`);
      return { status: res.status, body: (await res.json()) as { detail?: { deadLetterFailing?: boolean } } };
    };
    try {
      expect((await readyz()).status).toBe(200);
      const key = JSON.stringify({ account_id: uniqueId('poison-') });
      const [sent] = await producer.send({ topic: accountTopic, messages: [{ key, value: Buffer.from('not json at all') }] });

      await waitFor(async () => (await readyz()).status === 503, 60_000, 'not ready while the DLQ refuses writes');
      expect((await readyz()).body.detail?.deadLetterFailing).toBe(true);
      expect(await inv.metrics.registry.getSingleMetricAsString('invalidator_dead_letter_publish_failing')).toContain('invalidator_dead_letter_publish_failing 1');
      // One error line of the invalidator's own (kafkajs logs its retries besides) says where the
      // partition is stuck and why, with the fields to find the event.
      const errors = logLines.filter((l) => l.level === 'error' && l.logger !== 'kafkajs');
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatchObject({ dlq: dlqTopic, topic: accountTopic, partition: sent!.partition, offset: sent!.baseOffset, attempts: 1, msg: expect.stringMatching(/dead-letter topic refuses writes/) });
      expect(errors[0]!.err).toMatchObject({ message: expect.any(String) });

      const admin = kafka.admin();
      await admin.connect();
      try {
        const [committed] = await admin.fetchOffsets({ groupId: inv.config.KAFKA_GROUP_ID, topics: [accountTopic] });
        expect(BigInt(committed!.partitions.find((p) => p.partition === sent!.partition)!.offset)).toBeLessThanOrEqual(BigInt(sent!.baseOffset!));
        // The DLQ topic appears (an operator fixes it): the letter is published, readiness returns.
        await ensureChangeTopics([dlqTopic], 1);
        await waitFor(async () => (await admin.fetchTopicOffsets(dlqTopic)).some((p) => BigInt(p.high) > 0n), 60_000, 'the poison event in the DLQ');
        await waitFor(async () => (await readyz()).status === 200, 30_000, 'ready again');
        // And it moves on: the poison event's offset is committed (readiness returns when the
        // letter is published, before the commit).
        await waitFor(
          async () => {
            const [now] = await admin.fetchOffsets({ groupId: inv.config.KAFKA_GROUP_ID, topics: [accountTopic] });
            return BigInt(now!.partitions.find((p) => p.partition === sent!.partition)!.offset) > BigInt(sent!.baseOffset!);
          },
          30_000,
          'the poison event committed',
        );
      } finally {
        await admin.disconnect();
      }
      expect(logLines.filter((l) => l.msg === 'dead-letter topic writable again: ready')).toHaveLength(1);
    } finally {
      await producer.disconnect();
      await inv.stop();
    }
  });

  it('holds back only the poison event\'s partition: changes on the other partitions are evicted meanwhile', async () => {
    const dlqTopic = uniqueId('missing-dlq-');
    const inv = await startTestInvalidator({ DLQ_TOPIC: dlqTopic, KAFKA_CREATE_TOPICS: 'false', DLQ_MAX_ATTEMPTS: '1' });
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    const redis = testRedis();
    try {
      // The poison event on partition 0, first: its batch cannot commit until the DLQ takes it.
      await producer.send({ topic: accountTopic, messages: [{ partition: 0, key: JSON.stringify({ account_id: uniqueId('poison-') }), value: Buffer.from('not json at all') }] });
      await waitFor(() => inv.consumer.deadLetterFailing, 60_000, 'the dead-letter topic refusing the poison event');
      // Then changes on partitions 1 and 2. Before, the batch of partition 0 retried inside
      // kafkajs' fetch, and no partition of this broker was fetched again until the DLQ came back.
      await expectOtherPartitionsEvicted(producer, redis, 15_000);
      expect(inv.consumer.deadLetterFailing).toBe(true);
    } finally {
      redis.disconnect();
      await producer.disconnect();
      await inv.stop();
    }
  });

  it('with the default DLQ_MAX_ATTEMPTS (8), the other partitions\' changes are evicted within 6 s of the first failed attempt, not after the attempts run out (~25 s of in-place retries held every partition of that broker)', async () => {
    const dlqTopic = uniqueId('missing-dlq-');
    const logLines: Array<Record<string, unknown>> = [];
    const inv = await startTestInvalidator({ DLQ_TOPIC: dlqTopic, KAFKA_CREATE_TOPICS: 'false', LOG_LEVEL: 'info' }, { write: (line: string) => logLines.push(JSON.parse(line) as Record<string, unknown>) });
    expect(inv.config.DLQ_MAX_ATTEMPTS).toBe(8);
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    const redis = testRedis();
    try {
      await producer.send({ topic: accountTopic, messages: [{ partition: 0, key: JSON.stringify({ account_id: uniqueId('poison-') }), value: Buffer.from('not json at all') }] });
      await waitFor(async () => logLines.some((l) => l.level === 'warn' && /dead-letter publish failed/.test(String(l.msg))), 60_000, 'the first failed dead-letter publish');
      // Seen 0.1-2 s: a partition-0 attempt that has started (each about 2 s against a missing
      // topic) still holds that broker's next fetch until it fails.
      await expectOtherPartitionsEvicted(producer, redis, 6_000);
      // Still within its attempts: held back, not yet reported.
      expect(inv.consumer.deadLetterFailing).toBe(false);
    } finally {
      redis.disconnect();
      await producer.disconnect();
      await inv.stop();
    }
  });

  it('evicts every change behind the poison event on its own partition, beyond one fetch (1 MB), while the dead-letter topic refuses writes, committing nothing past the poison; once the topic takes writes, the partition commits past them all', async () => {
    const dlqTopic = uniqueId('missing-dlq-');
    const inv = await startTestInvalidator({ DLQ_TOPIC: dlqTopic, KAFKA_CREATE_TOPICS: 'false' });
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    const redis = testRedis();
    const admin = kafka.admin();
    await admin.connect();
    const committedOn0 = async (): Promise<bigint> => {
      const [committed] = await admin.fetchOffsets({ groupId: inv.config.KAFKA_GROUP_ID, topics: [accountTopic] });
      return BigInt(committed!.partitions.find((p) => p.partition === 0)!.offset);
    };
    try {
      const [poison] = await producer.send({ topic: accountTopic, messages: [{ partition: 0, key: JSON.stringify({ account_id: uniqueId('poison-') }), value: Buffer.from('not json at all') }] });
      // 8,000 changes behind it on partition 0 (~2 MB: two fetches and more), in sends of 1,000.
      const prefix = uniqueId('behind-poison-');
      const accounts = Array.from({ length: 8000 }, (_, i) => `${prefix}-${i}`);
      let lastOffset = 0n;
      for (let i = 0; i < accounts.length; i += 1000) {
        const [sent] = await producer.send({
          topic: accountTopic,
          messages: accounts.slice(i, i + 1000).map((account) => ({
            partition: 0,
            key: JSON.stringify({ account_id: account }),
            value: Buffer.from(JSON.stringify({ op: 'u', before: null, after: { account_id: account, version: 77 }, source: { schema: 'public', table: 'account_settings', ts_ms: Date.now() }, ts_ms: Date.now() })),
          })),
        });
        lastOffset = BigInt(sent!.baseOffset!) + 999n;
      }
      // Before, a partition that could not dead-letter was fetched again and again from its
      // committed offset: only the first fetch behind the poison event was ever evicted.
      for (const account of [accounts[0]!, accounts[3999]!, accounts[7999]!]) {
        await waitFor(async () => (await readCache(redis, cacheKeys.accountSettings(account).key))?.kind === 'marker', 30_000, `marker of ${account}, behind the poison event on its partition`);
      }
      expect(await committedOn0()).toBeLessThanOrEqual(BigInt(poison!.baseOffset!));
      // The topic appears: the held dead letter is published and the partition commits past
      // every change evicted meanwhile, with no new change to carry the commit.
      await ensureChangeTopics([dlqTopic], 1);
      await waitFor(async () => (await committedOn0()) > lastOffset, 30_000, 'the partition committed past the changes behind the poison event');
    } finally {
      await admin.disconnect();
      redis.disconnect();
      await producer.disconnect();
      await inv.stop();
    }
  });
});
