import type { Consumer, KafkaMessage } from 'kafkajs';
import { changeTopic, localStack } from '@settings/shared';
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
    const ev = JSON.parse(m.value.toString('utf8')) as {
      op: string;
      after?: { account_id?: string; version?: number | string } | null;
      before?: { account_id?: string; version?: number | string } | null;
      source: { ts_ms: number };
    };
    const row = ev.after ?? ev.before;
    if (!row?.account_id?.startsWith(this.prefix) || row.version === undefined) return;
    this.onChange({ accountId: row.account_id, version: BigInt(row.version), op: ev.op, commitMs: ev.source.ts_ms, kafkaMs: Number(m.timestamp), receivedMs });
  }

  async stop(): Promise<void> {
    await this.consumer?.disconnect();
    await deleteGroups([this.groupId]);
  }
}
