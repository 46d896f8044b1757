// Public API of @settings/local-stack: bring the real stack up/down, and helpers tests use.
export { up, down, status, endpoints, consoleProgress } from './stack';
export { redisProcess, startRedis } from './redis';
export { ChangeTopicReader } from './change-topic-reader';
export { pgQuery } from './postgres';
export { ensureChangeTopics } from './kafka';
export { connectorFile, localConnectorConfig } from './kafka-connect';
// Fault injection (chaos suite): stop a component one way, bring it back the way `up` does.
export { postgresRunning, startPostgres, stopPostgresImmediate } from './postgres';
export { kafkaProcess, startKafka } from './kafka';
export { connectProcess, startConnect, waitConnectorStreaming } from './kafka-connect';
export { positionGroupAtEnd } from './consumer-group';
// Helpers shared by tests, bench and chaos.
export { freePort } from './free-port';
export { mulberry32, type Prng } from './seeded-random';
