import { CACHED_TABLES, changeTopic, localStack } from '@settings/shared';

/** The change topic of every cached table on the local stack (what an invalidator consumes). */
export const changeTopics: readonly string[] = CACHED_TABLES.map((table) => changeTopic(localStack.topicPrefix, table));

/** Debezium's heartbeat table's topic: drainDebezium writes a sentinel row there. */
export const heartbeatTopic = changeTopic(localStack.topicPrefix, 'debezium_heartbeat');

/** Partitions of a topic created outside Debezium, as the connector's `topic.creation.default.partitions`. */
export const LOCAL_TOPIC_PARTITIONS = 3;
