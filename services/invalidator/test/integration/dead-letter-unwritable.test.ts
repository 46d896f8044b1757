import { Partitioners } from 'kafkajs';
import { changeTopic, localStack } from '@settings/shared';
import { ensureChangeTopics, localKafka } from '@settings/local-stack';
import { startTestInvalidator, uniqueId, waitFor } from '../support/test-invalidator';

/**
 * Readiness that notices what used to fail silently: a dead-letter topic that refuses writes
 * blocks its partition (offsets are committed only after the letter is published).
 */
jest.setTimeout(120_000);
const kafka = localKafka('health-test');
const accountTopic = changeTopic(localStack.topicPrefix, 'account_settings');

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
      } finally {
        await admin.disconnect();
      }
      await waitFor(async () => (await readyz()).status === 200, 30_000, 'ready again');
      expect(logLines.filter((l) => l.msg === 'dead-letter topic writable again: ready')).toHaveLength(1);
    } finally {
      await producer.disconnect();
      await inv.stop();
    }
  });
});
