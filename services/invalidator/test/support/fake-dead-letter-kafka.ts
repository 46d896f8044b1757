import type { Kafka, KafkaMessage } from 'kafkajs';

/**
 * A stand-in for kafkajs' admin and consumer over one dead-letter partition of `count` records
 * (`message(offset)`), delivered `gapMs` apart; a record whose handler throws is delivered again,
 * as kafkajs does. Tests add what else they need (a producer).
 */
export function fakeDeadLetterKafka(count: number, message: (offset: number) => KafkaMessage, gapMs = 1): Pick<Kafka, 'admin' | 'consumer'> {
  return {
    admin: () => ({
      connect: async () => undefined,
      disconnect: async () => undefined,
      fetchTopicOffsets: async () => [{ partition: 0, offset: String(count), high: String(count), low: '0' }],
      fetchOffsets: async () => [],
    }),
    consumer: () => {
      let stopped = false;
      return {
        connect: async () => undefined,
        subscribe: async () => undefined,
        seek: () => undefined,
        on: () => undefined,
        events: { CRASH: 'consumer.crash' },
        commitOffsets: async () => undefined,
        disconnect: async () => void (stopped = true),
        run: async ({ eachMessage }: { eachMessage: (p: { partition: number; message: KafkaMessage }) => Promise<void> }) => {
          void (async () => {
            for (let offset = 0; offset < count && !stopped; ) {
              await new Promise((r) => setTimeout(r, gapMs));
              try {
                await eachMessage({ partition: 0, message: message(offset) });
                offset += 1;
              } catch {
                // kafkajs delivers the same record again after a failed eachMessage.
              }
            }
          })();
        },
      };
    },
  } as unknown as Pick<Kafka, 'admin' | 'consumer'>;
}
