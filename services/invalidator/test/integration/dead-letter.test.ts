import { Partitioners } from 'kafkajs';
import { cacheKeys, changeTopic, localStack } from '@settings/shared';
import { ChangeTopicReader, localKafka } from '@settings/local-stack';
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
