import type { Producer } from 'kafkajs';
import type { Logger } from '@settings/shared';
import type { InvalidatorMetrics } from '../metrics';

export interface DeadLetter {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  reason: string;
  /** Short label for the metric (bounded cardinality). */
  category: 'not-json' | 'invalid-envelope' | 'unmapped' ;
}

/**
 * Sends events the invalidator cannot map to exact keys to the dead-letter topic with their
 * original bytes and the reason in headers, so they can be inspected and replayed
 * (docs/operations.md). The caller commits past the event only after this resolves.
 */
export class DeadLetterPublisher {
  constructor(
    private readonly producer: Producer,
    private readonly topic: string,
    private readonly log: Logger,
    private readonly metrics: InvalidatorMetrics,
  ) {}

  async publish(letters: DeadLetter[]): Promise<void> {
    if (letters.length === 0) return;
    await this.producer.send({
      topic: this.topic,
      acks: -1,
      messages: letters.map((l) => ({
        key: l.key,
        value: l.value,
        headers: {
          'dlq.reason': l.reason,
          'dlq.source.topic': l.topic,
          'dlq.source.partition': String(l.partition),
          'dlq.source.offset': l.offset,
          'dlq.at': new Date().toISOString(),
        },
      })),
    });
    for (const l of letters) {
      this.metrics.deadLetters.inc({ reason: l.category });
      this.log.warn({ topic: l.topic, partition: l.partition, offset: l.offset, reason: l.reason, dlq: this.topic }, 'change event sent to dead-letter topic');
    }
  }
}
