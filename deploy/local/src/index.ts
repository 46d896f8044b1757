// Public API of @settings/local-stack: bring the real stack up/down, and the one home of the
// helpers that tests, the benchmark and the chaos suite share.
export { up, down, status, endpoints, consoleProgress } from './stack';
export { redisProcess, startRedis } from './redis';
export { redisClusterReady, redisClusterRunning, restartRedisClusterNode, startRedisCluster, stopRedisCluster, stopRedisClusterNode } from './redis-cluster';
export { startRedisFailoverCluster, type RedisFailoverCluster } from './redis-failover-cluster';
export { pgQuery } from './postgres';
export { connectorFile, localConnectorConfig, type ConnectorFile } from './kafka-connect';
// Fault injection (chaos suite): stop a component one way, bring it back the way `up` does.
export { postgresRunning, startPostgres, stopPostgresImmediate } from './postgres';
// A failover's two sides: a hot standby of the stack's primary, promoted on demand.
export { startPostgresStandby, type PostgresStandby } from './postgres-standby';
export { listenAsDatabase, startPgPartitionProxy, type PgPartitionProxy } from './pg-partition-proxy';
export { startFaultProxy, type FaultProxy } from './fault-proxy';
export { kafkaProcess, startKafka } from './kafka';
export { connectProcess, startConnect, waitConnectorStreaming } from './kafka-connect';
// CDC gaps (chaos suite, `npm run cdc:heal`): make one, record one, heal it by an incremental snapshot.
export { dropReplicationSlot, resetConnectorOffsets, stopConnector } from './kafka-connect';
export { healLocalCdcGaps, recordLocalCdcGap } from './cdc-heal';

// Topics and consumer groups: the change topics, creating missing topics, reading a topic from
// its end, waiting for Debezium to catch up, positioning a new group.
export { changeTopics, heartbeatTopic, LOCAL_TOPIC_PARTITIONS } from './change-topics';
export { ensureChangeTopics } from './kafka';
export { localKafka, withAdmin } from './kafka-client';
export { ChangeTopicReader, type JsonValue } from './change-topic-reader';
export { drainDebezium } from './debezium-drain';
export { commitGroupOffsets, deleteGroups, groupCaughtUp, positionGroupAtEnd, topicEnds, type TopicOffsets } from './consumer-group';

// Process supervision: services as attached child processes, their HTTP probes.
export { ChildService, stopAllChildren, type ChildServiceOptions } from './child-service';
export { INVALIDATOR_NODE_ARGS } from './service-node-args';
export { httpGet, httpStatus } from './http-get';
export { repoRoot } from './state-dir';

// Small helpers: ports, ids, polling, seeded randomness.
export { freePort } from './free-port';
export { runId, uniqueId } from './unique-id';
export { waitFor } from './wait-for';
export { mulberry32, type Prng } from './seeded-random';
export { createTestRedis, testRedisEnv, testRedisTopology, type TestRedisTopology } from './test-redis';
