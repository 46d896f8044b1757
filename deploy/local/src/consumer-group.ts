import { changeTopics } from './change-topics';
import { drainDebezium } from './debezium-drain';
import { localKafka, withAdmin } from './kafka-client';
import { topicEnds, type TopicOffsets } from './topic-ends';

export { topicEnds, type TopicOffsets } from './topic-ends';

/**
 * Commits a brand-new consumer group's offsets, so a consumer of that group starts exactly
 * there. One throw-away member joins for all topics at once and commits: kafkajs'
 * admin.setOffsets joins and leaves the group once per topic, about 5 s each.
 */
export async function commitGroupOffsets(groupId: string, offsets: TopicOffsets): Promise<void> {
  const consumer = localKafka('local-stack-positioner').consumer({ groupId, maxWaitTimeInMs: 100 });
  await consumer.connect();
  try {
    const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
    await consumer.subscribe({ topics: [...offsets.keys()], fromBeginning: false });
    // Never resolves an offset and never auto-commits: the only commit is the one below.
    await consumer.run({ autoCommit: false, eachBatchAutoResolve: false, eachBatch: async () => undefined });
    await joined;
    await consumer.commitOffsets([...offsets].flatMap(([topic, partitions]) => partitions.map((p) => ({ topic, ...p }))));
  } finally {
    await consumer.disconnect();
  }
}

/**
 * Positions a brand-new consumer group at the current end of `topics` (the change topics), so consumers of that
 * group see only changes made from now on. The invalidator subscribes `fromBeginning` (a new
 * group must not skip anything), which on a long-lived local stack means replaying every change
 * ever made before it catches up.
 *
 * `drainFirst` first waits until Debezium has published everything committed so far (see
 * drainDebezium): earlier writes still in flight would otherwise land after the positioning
 * and reach the group, which a test or a measurement counting exactly its own changes must avoid.
 */
export async function positionGroupAtEnd(groupId: string, opts: { topics?: readonly string[]; drainFirst?: boolean } = {}): Promise<void> {
  if (opts.drainFirst) await drainDebezium();
  await commitGroupOffsets(groupId, await topicEnds(opts.topics ?? changeTopics));
}

/** True when `groupId` has committed offsets at the high watermark of every partition of `topics`. */
export function groupCaughtUp(groupId: string, topics: readonly string[] = changeTopics): Promise<boolean> {
  return withAdmin('local-stack-offsets', async (admin) => {
    const committed = await admin.fetchOffsets({ groupId, topics: [...topics] });
    for (const topic of topics) {
      const mine = committed.find((c) => c.topic === topic)?.partitions ?? [];
      for (const end of await admin.fetchTopicOffsets(topic)) {
        const c = mine.find((p) => p.partition === end.partition);
        if (!c || BigInt(c.offset) < BigInt(end.high)) return false;
      }
    }
    return true;
  });
}

/** Deletes consumer groups a run created (best effort: a group still in use stays). */
export async function deleteGroups(groupIds: readonly string[]): Promise<void> {
  if (groupIds.length === 0) return;
  await withAdmin('local-stack-offsets', (admin) => admin.deleteGroups([...groupIds]).then(() => undefined, () => undefined));
}
