import { Kafka, logLevel } from 'kafkajs';
import { localKafkaBrokers } from '@settings/shared';

/**
 * Commits a brand-new consumer group's offsets at the current end of `topics`, so consumers of
 * that group see only changes made from now on. The invalidator subscribes `fromBeginning` (a
 * new group must not skip anything), which on a long-lived local stack means replaying every
 * change ever made before it catches up.
 *
 * One throw-away member joins for all topics at once and commits: kafkajs' admin.setOffsets
 * joins and leaves the group once per topic, about 5 s each.
 */
export async function positionGroupAtEnd(groupId: string, topics: readonly string[]): Promise<void> {
  const kafka = new Kafka({ clientId: 'local-stack-positioner', brokers: localKafkaBrokers.split(','), logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const ends: Array<{ topic: string; partition: number; offset: string }> = [];
  try {
    for (const topic of topics) {
      // Right after a broker restart a topic may answer "not the leader" until its metadata settles.
      for (let attempt = 0; ; attempt++) {
        try {
          for (const p of await admin.fetchTopicOffsets(topic)) ends.push({ topic, partition: p.partition, offset: p.high });
          break;
        } catch (err) {
          if (attempt >= 20) throw err;
          await new Promise((r) => setTimeout(r, 500));
        }
      }
    }
  } finally {
    await admin.disconnect();
  }
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 100 });
  await consumer.connect();
  try {
    const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
    await consumer.subscribe({ topics: [...topics], fromBeginning: false });
    // Never resolves an offset and never auto-commits: the only commit is the one below.
    await consumer.run({ autoCommit: false, eachBatchAutoResolve: false, eachBatch: async () => undefined });
    await joined;
    await consumer.commitOffsets(ends);
  } finally {
    await consumer.disconnect();
  }
}
