import { changeTopics } from './change-topics';
import { ensureChangeTopics } from './kafka';
import { withAdmin } from './kafka-client';

/** Per topic, an offset for each partition (the high watermarks, for topicEnds). */
export type TopicOffsets = Map<string, Array<{ partition: number; offset: string }>>;

/**
 * The current end (high watermark) of every partition of `topics`, creating those that do not
 * exist yet the way `up` creates the change topics.
 */
export async function topicEnds(topics: readonly string[] = changeTopics): Promise<TopicOffsets> {
  await ensureChangeTopics(topics);
  return withAdmin('local-stack-offsets', async (admin) => {
    const ends: TopicOffsets = new Map();
    for (const topic of topics) {
      // Right after a broker restart a topic may answer "not the leader" until its metadata settles.
      for (let attempt = 0; ; attempt++) {
        try {
          ends.set(topic, (await admin.fetchTopicOffsets(topic)).map((p) => ({ partition: p.partition, offset: p.high })));
          break;
        } catch (err) {
          if (attempt >= 20) throw err;
          await new Promise((r) => setTimeout(r, 500));
        }
      }
    }
    return ends;
  });
}
