import type { Consumer, KafkaMessage } from 'kafkajs';
import { changeTopic, decodeChangeEvent, localStack } from '@settings/shared';
import { deleteGroups, localKafka } from '@settings/local-stack';

const accountSettingsTopic = changeTopic(localStack.topicPrefix, 'account_settings');

export interface TappedChange {
  accountId: string;
  version: bigint;
  op: string;
  /** Postgres commit time (source.ts_ms). */
  commitMs: number;
  /** Kafka record timestamp (CreateTime: when Connect produced it). */
  kafkaMs: number;
  /** When this process received it. */
  receivedMs: number;
}

/**
 * Reads account_settings change events with its own group, positioned at the topic end
 * beforehand, and hands each decoded event whose account id starts with `prefix` to `onChange`.
 */
export class ChangeTap {
  private consumer: Consumer | undefined;
  constructor(
    private readonly groupId: string,
    private readonly prefix: string,
    private readonly onChange: (c: TappedChange) => void,
  ) {}

  async start(): Promise<void> {
    // A new group without offsets starts at the end once it has joined; nothing is written before.
    const consumer = localKafka('settings-bench-tap').consumer({ groupId: this.groupId, maxWaitTimeInMs: 20 });
    this.consumer = consumer;
    await consumer.connect();
    await consumer.subscribe({ topic: accountSettingsTopic, fromBeginning: false });
    const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
    await consumer.run({
      autoCommit: true,
      eachBatch: async ({ batch }) => {
        const receivedMs = Date.now();
        for (const m of batch.messages) this.handle(m, receivedMs);
      },
    });
    await joined;
  }

  private handle(m: KafkaMessage, receivedMs: number): void {
    if (!m.value) return;
    // Cheap pre-filter before JSON.parse: most events on a shared stack are other people's.
    if (!m.value.includes(this.prefix)) return;
    const decoded = decodeChangeEvent(m.value);
    if (decoded.kind !== 'change') return;
    const { event } = decoded;
    const row = event.after ?? event.before;
    const accountId = row?.account_id;
    const version = row?.version;
    if (typeof accountId !== 'string' || !accountId.startsWith(this.prefix) || (typeof version !== 'number' && typeof version !== 'string')) return;
    this.onChange({ accountId, version: BigInt(version), op: event.op, commitMs: event.source.ts_ms, kafkaMs: Number(m.timestamp), receivedMs });
  }

  async stop(): Promise<void> {
    await this.consumer?.disconnect();
    await deleteGroups([this.groupId]);
  }
}
