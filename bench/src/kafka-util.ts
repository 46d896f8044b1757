import { Kafka, logLevel, type Admin, type Consumer, type KafkaMessage } from 'kafkajs';
import { CACHED_TABLES, changeTopic, localKafkaBrokers, localStack } from '@settings/shared';
import { ChangeTopicReader } from '@settings/local-stack';
import { sql } from './db';

export const changeTopics = CACHED_TABLES.map((t) => changeTopic(localStack.topicPrefix, t));
export const accountSettingsTopic = changeTopic(localStack.topicPrefix, 'account_settings');

export function kafka(clientId = 'settings-bench'): Kafka {
  return new Kafka({ clientId, brokers: localKafkaBrokers.split(','), logLevel: logLevel.NOTHING });
}

async function withAdmin<T>(work: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = kafka('settings-bench-admin').admin();
  await admin.connect();
  try {
    return await work(admin);
  } finally {
    await admin.disconnect();
  }
}

/**
 * Waits until Debezium has published everything committed so far: writes a sentinel heartbeat
 * row and waits for its change event (the bulk writes of a previous step may still be in flight).
 */
export async function drainDebezium(timeoutMs = 300_000): Promise<void> {
  const reader = new ChangeTopicReader(changeTopic(localStack.topicPrefix, 'debezium_heartbeat'));
  await reader.start();
  try {
    // Id 1 is Debezium's own heartbeat row; any other id is a sentinel like this one.
    const sentinel = 2 + Math.floor(Math.random() * 2_000_000_000);
    await sql('INSERT INTO debezium_heartbeat (id, ts) VALUES ($1, now())', [sentinel]);
    await reader.waitFor((v) => (v as { after?: { id?: number } } | null)?.after?.id === sentinel, timeoutMs);
    await sql('DELETE FROM debezium_heartbeat WHERE id = $1', [sentinel]);
  } finally {
    await reader.stop();
  }
}

export type TopicOffsets = Map<string, Array<{ partition: number; offset: string }>>;

/** High watermarks of the change topics (creating missing topics like the invalidator would). */
export async function topicEnds(topics = changeTopics): Promise<TopicOffsets> {
  return withAdmin(async (admin) => {
    const existing = new Set(await admin.listTopics());
    const missing = topics.filter((t) => !existing.has(t));
    if (missing.length) await admin.createTopics({ waitForLeaders: true, topics: missing.map((topic) => ({ topic, numPartitions: 3 })) });
    const out: TopicOffsets = new Map();
    for (const topic of topics) out.set(topic, (await admin.fetchTopicOffsets(topic)).map((p) => ({ partition: p.partition, offset: p.high })));
    return out;
  });
}

/**
 * Commits a (new, empty) group's offsets, so a consumer of it starts exactly there. One
 * throw-away member joins for all topics at once and commits; admin.setOffsets would join the
 * group once per topic, each join waiting out the broker's initial rebalance delay.
 */
export async function setGroupOffsets(groupId: string, offsets: TopicOffsets): Promise<void> {
  const consumer = kafka('settings-bench-positioner').consumer({ groupId, maxWaitTimeInMs: 100 });
  await consumer.connect();
  try {
    const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
    await consumer.subscribe({ topics: [...offsets.keys()], fromBeginning: false });
    // Never resolves an offset and never auto-commits: the only commit is the one below.
    await consumer.run({ autoCommit: false, eachBatchAutoResolve: false, eachBatch: async () => undefined });
    await joined;
    await consumer.commitOffsets([...offsets].flatMap(([topic, partitions]) => partitions.map((p) => ({ topic, partition: p.partition, offset: p.offset }))));
  } finally {
    await consumer.disconnect();
  }
}

/** Drains Debezium, then positions a brand-new group at the current end of every change topic. */
export async function positionGroupAtEnd(groupId: string, topics = changeTopics): Promise<void> {
  await drainDebezium();
  await setGroupOffsets(groupId, await topicEnds(topics));
}

export async function deleteGroups(groupIds: string[]): Promise<void> {
  if (groupIds.length === 0) return;
  await withAdmin(async (admin) => {
    await admin.deleteGroups(groupIds).catch(() => undefined);
  });
}

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
    const consumer = kafka('settings-bench-tap').consumer({ groupId: this.groupId, maxWaitTimeInMs: 20 });
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

/** True when `groupId` has committed offsets at the high watermark of every change topic. */
export async function groupCaughtUp(groupId: string, topics = changeTopics): Promise<boolean> {
  return withAdmin(async (admin) => {
    const committed = await admin.fetchOffsets({ groupId, topics });
    for (const topic of topics) {
      const ends = await admin.fetchTopicOffsets(topic);
      const mine = committed.find((c) => c.topic === topic)?.partitions ?? [];
      for (const end of ends) {
        const c = mine.find((p) => p.partition === end.partition);
        if (!c || BigInt(c.offset) < BigInt(end.high)) return false;
      }
    }
    return true;
  });
}
