import { Partitioners } from 'kafkajs';
import { CACHED_TABLES, cacheKeys, changeTopic, localStack } from '@settings/shared';
import { ChangeTopicReader, deleteGroups, localKafka } from '@settings/local-stack';
import { readDeadLetters } from '../../src/admin/dead-letters';
import { accountSettingsVersion, fencedAtLeast, readCache, sql, startTestInvalidator, testRedis, uniqueId, waitFor } from '../support/test-invalidator';
import type { RunningInvalidator } from '../../src/invalidator';

/**
 * A poison event must never stop invalidation: it goes to the dead-letter topic with its
 * original bytes and a reason, and the events after it are still applied.
 */
let inv: RunningInvalidator & { config: { DLQ_TOPIC: string } };
let dlq: ChangeTopicReader;
const redis = testRedis();
const kafka = localKafka('poison-test');
const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });

beforeAll(async () => {
  inv = await startTestInvalidator();
  dlq = new ChangeTopicReader(inv.config.DLQ_TOPIC);
  await dlq.start();
  await producer.connect();
});
afterAll(async () => {
  await inv.stop();
  await dlq.stop();
  await producer.disconnect();
  redis.disconnect();
});

describe('dead-letter topic', () => {
  it.each([
    ['bytes that are not JSON', Buffer.from('\u0000\u00ffnot json'), /not JSON/],
    ['an envelope with an unknown op', Buffer.from(JSON.stringify({ op: 'z', source: { table: 'account_settings', schema: 'public', ts_ms: 1 } })), /unknown op/],
    ['a row id that could forge a key', Buffer.from(JSON.stringify({ op: 'u', before: null, after: { account_id: 'x}:evil', version: 3 }, source: { table: 'account_settings', schema: 'public', ts_ms: 1 } })), /account_id/],
  ])('%s goes to the DLQ with its bytes and reason; later good events are still applied', async (_name, poison, reason) => {
    const marker = uniqueId('poison-');
    await producer.send({ topic: changeTopic(localStack.topicPrefix, 'account_settings'), messages: [{ key: JSON.stringify({ account_id: marker }), value: poison }] });
    const { message } = await dlq.waitFor((_v, m) => m.key?.toString() === JSON.stringify({ account_id: marker }), 20_000);
    expect(Buffer.compare(message.value!, poison)).toBe(0);
    expect(message.headers?.['dlq.reason']?.toString()).toMatch(reason);
    expect(message.headers?.['dlq.source.topic']?.toString()).toBe(changeTopic(localStack.topicPrefix, 'account_settings'));

    const account = uniqueId();
    await sql('INSERT INTO account_settings (account_id) VALUES ($1)', [account]);
    const v = await accountSettingsVersion(account);
    await waitFor(async () => fencedAtLeast(await readCache(redis, cacheKeys.accountSettings(account).key), v), 20_000, 'good event after poison applied');
    expect(await inv.metrics.registry.getSingleMetricAsString('invalidator_dead_letter_total')).toMatch(/invalidator_dead_letter_total\{reason="[a-z-]+"\} [1-9]/);
  });
});

describe('dead letters of a chunk larger than the dead-letter topic takes in one request', () => {
  it('are all published, in sends below DLQ_MAX_SEND_BYTES, an oversized one cut to fit; the partition commits', async () => {
    // Change topics of its own (KAFKA_TOPIC_PREFIX): the malformed events reach no other
    // invalidator. The DLQ as in Kubernetes (one partition), with a small max.message.bytes.
    const prefix = uniqueId('test-dlq-size-');
    const topic = changeTopic(prefix, 'account_settings');
    const dlqTopic = uniqueId('test-dlq-size-dlq-');
    const readGroup = uniqueId('test-dlq-size-read-');
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic: dlqTopic, numPartitions: 1, configEntries: [{ name: 'max.message.bytes', value: String(64 * 1024) }] }] });
    const small = await startTestInvalidator({ KAFKA_TOPIC_PREFIX: prefix, DLQ_TOPIC: dlqTopic, DLQ_MAX_SEND_BYTES: String(48 * 1024), DLQ_MAX_ATTEMPTS: '2', LOG_LEVEL: 'error' });
    const reader = new ChangeTopicReader(dlqTopic);
    await reader.start();
    try {
      // A bulk change decoded against the wrong column list (README, Failure modes): every event
      // has version 0, ~520 bytes each, ~450 KB of dead letters; and one 200 KB event that is not JSON.
      const versionZero = (i: number) => {
        const id = `acct-${String(i).padStart(6, '0')}`;
        const source = { version: '2.7.3.Final', connector: 'postgresql', name: prefix, ts_ms: Date.now(), snapshot: 'false', db: 'settings', schema: 'public', table: 'account_settings', txId: 123456, lsn: 123456790, xmin: null };
        return { partition: 0, key: JSON.stringify({ account_id: id }), value: JSON.stringify({ before: { account_id: id, version: 0 }, after: { account_id: id, version: 0 }, source, transaction: null, op: 'u', ts_ms: Date.now() }) };
      };
      const big = Buffer.alloc(200_000, 'x');
      const messages = [...Array.from({ length: 300 }, (_, i) => versionZero(i)), { partition: 0, key: JSON.stringify({ account_id: 'big' }), value: big }, ...Array.from({ length: 300 }, (_, i) => versionZero(300 + i))];
      const [sent] = await producer.send({ topic, messages });
      const first = BigInt(sent!.baseOffset!);
      const end = first + BigInt(messages.length);

      await waitFor(
        async () => {
          const [committed] = await admin.fetchOffsets({ groupId: small.config.KAFKA_GROUP_ID, topics: [topic] });
          return BigInt(committed?.partitions.find((p) => p.partition === 0)?.offset ?? '-1') === end;
        },
        60_000,
        'the partition committed past every malformed event',
      );
      // Every event is on the DLQ, in order (at-least-once: a repeat would be allowed, a gap not).
      const sourceOffsets: string[] = [];
      await readDeadLetters(kafka, { topic: dlqTopic, groupId: readGroup, start: { from: 'earliest' }, limit: 10_000 }, async (r) => {
        if (r.sourceTopic === topic && !sourceOffsets.includes(r.sourceOffset!)) sourceOffsets.push(r.sourceOffset!);
      });
      expect(sourceOffsets).toEqual(messages.map((_, i) => (first + BigInt(i)).toString()));
      const { message } = await reader.waitFor((_v, m) => m.headers?.['dlq.source.offset']?.toString() === (first + 300n).toString());
      expect(message.headers?.['dlq.truncated.value.bytes']?.toString()).toBe('200000');
      expect(message.value!.length).toBeLessThan(48 * 1024);
      expect(Buffer.compare(message.value!, big.subarray(0, message.value!.length))).toBe(0);
      expect(small.consumer.deadLetterFailing).toBe(false);
    } finally {
      await reader.stop();
      await small.stop();
      await admin.deleteTopics({ topics: [dlqTopic, ...CACHED_TABLES.map((t) => changeTopic(prefix, t))] }).catch(() => undefined);
      await admin.disconnect();
      await deleteGroups([small.config.KAFKA_GROUP_ID, readGroup]);
    }
  }, 120_000);
});
