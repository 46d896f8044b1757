import type { Consumer, KafkaMessage } from 'kafkajs';
import { topicEnds } from './topic-ends';
import { localKafka } from './kafka-client';
import { uniqueId } from './unique-id';

/** A record value: parsed JSON, `null` for a tombstone, `undefined` when it is not JSON. */
export type JsonValue = Record<string, unknown> | null | undefined;

function parseValue(raw: Buffer | null): JsonValue {
  if (raw === null) return null;
  try {
    return JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

/**
 * Reads a topic from its end with a throw-away consumer group, so a test sees only what it
 * caused. `start()` resolves once partitions are assigned and positioned at the end.
 */
export class ChangeTopicReader {
  private readonly consumer: Consumer;
  private readonly messages: Array<{ partition: number; message: KafkaMessage }> = [];
  private waiters: Array<() => void> = [];

  constructor(readonly topic: string) {
    this.consumer = localKafka('test-reader').consumer({ groupId: uniqueId('test-reader-'), maxWaitTimeInMs: 100 });
  }

  async start(): Promise<void> {
    // `up` creates the change topics, but not every topic a reader is pointed at (the
    // invalidator's dead-letter topic exists only once an invalidator created it), and
    // subscribing to a missing topic fails (topicEnds creates it the way `up` does).
    // The ends are read before joining and sought to after: a new group's "latest" is resolved
    // only at its first fetch after the join, so an event the test causes right after start()
    // could be published before that fetch and skipped (seen: a 15 s wait for an INSERT's event).
    const ends = (await topicEnds([this.topic])).get(this.topic) ?? [];
    await this.consumer.connect();
    await this.consumer.subscribe({ topic: this.topic, fromBeginning: false });
    const joined = new Promise<void>((resolve) => {
      this.consumer.on(this.consumer.events.GROUP_JOIN, () => resolve());
    });
    await this.consumer.run({
      eachMessage: async ({ partition, message }) => {
        this.messages.push({ partition, message });
        for (const w of this.waiters.splice(0)) w();
      },
    });
    await joined;
    for (const { partition, offset } of ends) this.consumer.seek({ topic: this.topic, partition, offset });
  }

  /** Waits until `match` holds for some message, or fails after `timeoutMs` naming what it saw. */
  async waitFor(match: (value: JsonValue, message: KafkaMessage, partition: number) => boolean, timeoutMs = 20_000): Promise<{ value: JsonValue; message: KafkaMessage }> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (const { partition, message } of this.messages) {
        const value = parseValue(message.value);
        if (match(value, message, partition)) return { value, message };
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no matching message on ${this.topic} within ${timeoutMs} ms (saw ${this.messages.length})`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 250));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  async stop(): Promise<void> {
    await this.consumer.disconnect();
  }
}
