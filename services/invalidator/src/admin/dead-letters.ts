import type { Kafka, KafkaMessage } from 'kafkajs';
import { CACHED_TABLES, changeTopic } from '@settings/shared';

/**
 * Reading and replaying the dead-letter topic (`settings-admin dlq list|replay`). Each dead
 * letter holds the original change event's bytes and, in headers, where it came from and why it
 * was rejected (consumer/dead-letter-publisher.ts).
 */
export interface DeadLetterRecord {
  partition: number;
  offset: string;
  sourceTopic?: string;
  sourcePartition?: number;
  sourceOffset?: string;
  reason?: string;
  at?: string;
  key: Buffer | null;
  value: Buffer | null;
  /**
   * The original lengths when the dead letter holds only the first bytes of its event's value or
   * key (`dlq.truncated.value.bytes` / `dlq.truncated.key.bytes`: too large for the DLQ).
   */
  truncated?: { valueBytes?: number; keyBytes?: number };
}

/**
 * Where reading starts in each partition: the earliest retained record, an offset (clamped to
 * what is retained), or where `groupId` last committed (earliest when it never did).
 */
export type ReadStart = { from: 'earliest' } | { from: 'offset'; offset: bigint } | { from: 'committed' };

export interface ReadOptions {
  topic: string;
  groupId: string;
  start: ReadStart;
  /** At most this many records. */
  limit: number;
  /** Only this partition (offsets are per partition). */
  partition?: number;
  /**
   * Give up when no record arrived for this long before the ends were reached (a group that never
   * gets its partitions). Measured from the last record, not the start: a replay of thousands of
   * records, each a produce and a commit, may take minutes while it keeps making progress.
   */
  timeoutMs?: number;
}

const header = (m: KafkaMessage, name: string): string | undefined => {
  const v = m.headers?.[name];
  if (v === undefined) return undefined;
  return (Array.isArray(v) ? v[0] : v)?.toString();
};

function toRecord(partition: number, m: KafkaMessage): DeadLetterRecord {
  const sourcePartition = header(m, 'dlq.source.partition');
  const valueBytes = header(m, 'dlq.truncated.value.bytes');
  const keyBytes = header(m, 'dlq.truncated.key.bytes');
  return {
    ...(valueBytes === undefined && keyBytes === undefined
      ? {}
      : { truncated: { ...(valueBytes === undefined ? {} : { valueBytes: Number(valueBytes) }), ...(keyBytes === undefined ? {} : { keyBytes: Number(keyBytes) }) } }),
    partition,
    offset: m.offset,
    sourceTopic: header(m, 'dlq.source.topic'),
    ...(sourcePartition === undefined ? {} : { sourcePartition: Number(sourcePartition) }),
    sourceOffset: header(m, 'dlq.source.offset'),
    reason: header(m, 'dlq.reason'),
    at: header(m, 'dlq.at'),
    key: m.key,
    value: m.value,
  };
}

/**
 * Reads records from their start up to the partition ends as of the call (records arriving
 * later wait for the next run), in offset order per partition, one at a time: `handle` returns
 * before the next record is read, so a replay commits each record only after it re-published it.
 * Returns how many records were handled.
 */
export async function readDeadLetters(kafka: Kafka, options: ReadOptions, handle: (r: DeadLetterRecord, commit: () => Promise<void>) => Promise<void>): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  let starts: Map<number, bigint>;
  let ends: Map<number, bigint>;
  try {
    const offsets = (await admin.fetchTopicOffsets(options.topic)).filter((o) => options.partition === undefined || o.partition === options.partition);
    if (options.partition !== undefined && offsets.length === 0) throw new Error(`${options.topic} has no partition ${options.partition}`);
    const committed = options.start.from === 'committed' ? await committedOffsets(admin, options.groupId, options.topic) : new Map<number, bigint>();
    ends = new Map(offsets.map((o) => [o.partition, BigInt(o.high)]));
    starts = new Map(
      offsets.map((o) => {
        const low = BigInt(o.low);
        const wanted = options.start.from === 'offset' ? options.start.offset : (committed.get(o.partition) ?? low);
        return [o.partition, wanted < low ? low : wanted];
      }),
    );
  } finally {
    await admin.disconnect();
  }
  const pending = new Set([...starts].filter(([p, s]) => s < ends.get(p)!).map(([p]) => p));
  if (pending.size === 0 || options.limit <= 0) return 0;

  const consumer = kafka.consumer({ groupId: options.groupId, maxWaitTimeInMs: 250, allowAutoTopicCreation: false });
  let handled = 0;
  try {
    await consumer.connect();
    await consumer.subscribe({ topic: options.topic, fromBeginning: true });
    const idleMs = options.timeoutMs ?? 60_000;
    await new Promise<void>((resolve, reject) => {
      const idle = (): NodeJS.Timeout =>
        setTimeout(() => finish(new Error(`${options.topic}: no record for ${idleMs} ms before the partition ends were reached, after ${handled} record(s) (group ${options.groupId})`)), idleMs);
      let timer = idle();
      let settled = false;
      const finish = (err?: unknown): void => {
        settled = true;
        clearTimeout(timer);
        if (err) reject(err instanceof Error ? err : new Error(String(err)));
        else resolve();
      };
      consumer
        .run({
          autoCommit: false,
          eachMessage: async ({ partition, message }) => {
            if (!pending.has(partition) || handled >= options.limit) return;
            const offset = BigInt(message.offset);
            if (offset < starts.get(partition)!) return;
            if (settled) return;
            clearTimeout(timer);
            timer = idle();
            if (offset < ends.get(partition)!) {
              await handle(toRecord(partition, message), () => consumer.commitOffsets([{ topic: options.topic, partition, offset: (offset + 1n).toString() }]));
              // Counted once handled: a record whose handling failed is delivered again.
              handled += 1;
            }
            if (offset + 1n >= ends.get(partition)!) pending.delete(partition);
            if (pending.size === 0 || handled >= options.limit) finish();
          },
        })
        .then(() => {
          // Where each partition starts is ours to say, not the group's (seek needs a running consumer).
          for (const [partition, start] of starts) consumer.seek({ topic: options.topic, partition, offset: start.toString() });
        }, finish);
      consumer.on(consumer.events.CRASH, (e) => finish(e.payload.error));
    });
  } finally {
    await consumer.disconnect();
  }
  return handled;
}

async function committedOffsets(admin: ReturnType<Kafka['admin']>, groupId: string, topic: string): Promise<Map<number, bigint>> {
  const [entry] = await admin.fetchOffsets({ groupId, topics: [topic] });
  // '-1': the group never committed in that partition.
  return new Map((entry?.partitions ?? []).filter((p) => p.offset !== '-1').map((p) => [p.partition, BigInt(p.offset)]));
}

/**
 * The change topics a dead letter may be replayed to: those the invalidator consumes. A record
 * naming anything else (a forged or foreign header) is never produced anywhere.
 */
export function replayableTopics(topicPrefix: string): Set<string> {
  return new Set(CACHED_TABLES.map((t) => changeTopic(topicPrefix, t)));
}

export function formatDeadLetter(r: DeadLetterRecord): string {
  const source = r.sourceTopic === undefined ? '(no source header)' : `${r.sourceTopic}/${r.sourcePartition ?? '?'}@${r.sourceOffset ?? '?'}`;
  const bytes = r.value === null ? 'tombstone' : `${r.value.length} bytes`;
  const cut = r.truncated ? `\tTRUNCATED (${[r.truncated.valueBytes === undefined ? '' : `value was ${r.truncated.valueBytes} bytes`, r.truncated.keyBytes === undefined ? '' : `key was ${r.truncated.keyBytes} bytes`].filter(Boolean).join(', ')})` : '';
  return `${r.partition}@${r.offset}\t${source}\t${r.at ?? ''}\t${r.reason ?? '(no reason header)'}\tkey=${r.key?.toString('utf8') ?? 'null'}\t${bytes}${cut}`;
}
