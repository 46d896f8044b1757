import type { Kafka, KafkaMessage } from 'kafkajs';
import { readDeadLetters } from '../../src/admin/dead-letters';
import { fakeDeadLetterKafka } from '../support/fake-dead-letter-kafka';

/**
 * readDeadLetters against a stand-in for kafkajs (what the tool does with what Kafka hands it;
 * the real broker is in test/integration/admin-cli.test.ts): one partition of `count` records,
 * delivered `gapMs` apart; a record whose handler throws is delivered again, as kafkajs does.
 */
function fakeKafka(count: number, gapMs: number): Kafka {
  const message = (offset: number): KafkaMessage => ({ offset: String(offset), key: Buffer.from(`k${offset}`), value: Buffer.from('{}'), timestamp: '0', attributes: 0, headers: {} }) as KafkaMessage;
  return fakeDeadLetterKafka(count, message, gapMs) as Kafka;
}

describe('reading dead letters (settings-admin dlq)', () => {
  it('gives up only when no record arrived for timeoutMs, not when the whole read takes longer (a long replay keeps making progress)', async () => {
    const handled = await readDeadLetters(fakeKafka(30, 10), { topic: 'dlq', groupId: 'g', start: { from: 'earliest' }, limit: 1000, timeoutMs: 150 }, async () => undefined);
    expect(handled).toBe(30);
  });

  it('counts a record whose handling failed and was delivered again once (the --limit and the totals count records, not attempts)', async () => {
    let failures = 1;
    const seen: string[] = [];
    const handled = await readDeadLetters(fakeKafka(5, 1), { topic: 'dlq', groupId: 'g', start: { from: 'earliest' }, limit: 1000, timeoutMs: 5_000 }, async (r) => {
      if (r.offset === '2' && failures-- > 0) throw new Error('produce failed');
      seen.push(r.offset);
    });
    expect(handled).toBe(5);
    expect(seen).toEqual(['0', '1', '2', '3', '4']);
  });
});
