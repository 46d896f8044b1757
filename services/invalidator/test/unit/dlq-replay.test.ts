import { Kafka, type KafkaMessage } from 'kafkajs';
import { CACHED_TABLES, changeTopic } from '@settings/shared';
import { createAdminProgram } from '../../src/admin/settings-admin';
import { fakeDeadLetterKafka } from '../support/fake-dead-letter-kafka';

// `settings-admin dlq replay` against a stand-in for kafkajs (the real broker is in
// test/integration/admin-cli.test.ts): what it prints and counts when a send fails once.
jest.mock('kafkajs', () => ({ ...jest.requireActual<typeof import('kafkajs')>('kafkajs'), Kafka: jest.fn() }));

const PREFIX = 'settings';
const SOURCE = changeTopic(PREFIX, CACHED_TABLES[0]!);

/**
 * One DLQ partition of `count` dead letters from a change topic; a record whose handler throws is
 * delivered again, as kafkajs does. The producer's first send rejects (a broker hiccup).
 */
function fakeKafka(count: number): { kafka: Kafka; sent: string[] } {
  const sent: string[] = [];
  let sends = 0;
  const message = (offset: number): KafkaMessage =>
    ({ offset: String(offset), key: Buffer.from(`k${offset}`), value: Buffer.from('{}'), timestamp: '0', attributes: 0, headers: { 'dlq.source.topic': Buffer.from(SOURCE), 'dlq.source.partition': Buffer.from('0') } }) as KafkaMessage;
  const kafka = {
    ...fakeDeadLetterKafka(count, message),
    producer: () => ({
      connect: async () => undefined,
      disconnect: async () => undefined,
      send: async ({ messages }: { messages: Array<{ key: Buffer }> }) => {
        sends += 1;
        if (sends === 1) throw new Error('send failed: broker not available');
        sent.push(messages[0]!.key.toString());
        return [];
      },
    }),
  } as unknown as Kafka;
  return { kafka, sent };
}

test('dlq replay counts and prints a record once it is sent: a send that failed and was retried is one replay, not two', async () => {
  const { kafka, sent } = fakeKafka(3);
  jest.mocked(Kafka).mockImplementation(() => kafka);
  const lines: string[] = [];
  await createAdminProgram({ env: { KAFKA_BROKERS: '127.0.0.1:9092', KAFKA_TOPIC_PREFIX: PREFIX }, out: (l) => lines.push(l) }).parseAsync(['dlq', 'replay'], { from: 'user' });
  expect(sent).toEqual(['k0', 'k1', 'k2']);
  expect(lines.filter((l) => l.startsWith('replay '))).toHaveLength(3);
  expect(lines.at(-1)).toMatch(/^replayed 3 dead letter\(s\), skipped 0 /);
});
