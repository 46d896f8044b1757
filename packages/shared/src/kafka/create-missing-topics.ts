/** The part of a kafkajs `Admin` that topic creation needs (this package does not depend on kafkajs). */
export interface TopicAdmin {
  listTopics(): Promise<string[]>;
  createTopics(options: { waitForLeaders?: boolean; topics: Array<{ topic: string; numPartitions?: number }> }): Promise<boolean>;
}

/**
 * Creates those of `topics` that do not exist yet and returns their names. Safe when another
 * client creates the same topic at the same moment (two invalidator replicas starting, a test
 * reader and the stack): kafkajs resolves `false` when every failure is "already exists", and a
 * single-topic error of that type is tolerated here too.
 */
export async function createMissingTopics(admin: TopicAdmin, topics: readonly string[], partitions: number): Promise<string[]> {
  const existing = new Set(await admin.listTopics());
  const missing = topics.filter((t) => !existing.has(t));
  if (missing.length === 0) return [];
  await admin.createTopics({ waitForLeaders: true, topics: missing.map((topic) => ({ topic, numPartitions: partitions })) }).catch((err: unknown) => {
    if ((err as { type?: string }).type !== 'TOPIC_ALREADY_EXISTS') throw err;
  });
  return missing;
}
