// Public API of @settings/local-stack: bring the real stack up/down, and helpers tests use.
export { up, down, status, endpoints, consoleProgress } from './stack';
export { redisProcess, startRedis } from './redis';
export { ChangeTopicReader } from './change-topic-reader';
export { pgQuery } from './postgres';
export { ensureChangeTopics } from './kafka';
export { connectorFile, localConnectorConfig } from './kafka-connect';
