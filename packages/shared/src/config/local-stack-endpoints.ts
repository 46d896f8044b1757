/**
 * Where the project's own local stack listens (deploy/local). They are the services' endpoints
 * only in processes the stack's own scripts start (`SETTINGS_LOCAL_STACK=1`: `npm start`, the
 * tests), which need no other environment; everywhere else DATABASE_URL, REDIS_URL and
 * KAFKA_BROKERS are required and, in Kubernetes, point at external services.
 *
 * Non-default ports on purpose: the machine may already run a PostgreSQL on 5432 and a
 * Redis on 6379, and tests must never touch those.
 */
export const localStack = {
  postgresPort: 55432,
  redisPort: 56379,
  kafkaPort: 59092,
  kafkaControllerPort: 59093,
  connectPort: 58083,
  database: 'settings',
  /** Debezium's `topic.prefix`; change topics are `<prefix>.public.<table>`. */
  topicPrefix: 'settings',
} as const;

export const localDatabaseUrl = `postgres://postgres@127.0.0.1:${localStack.postgresPort}/${localStack.database}`;
export const localRedisUrl = `redis://127.0.0.1:${localStack.redisPort}`;
export const localKafkaBrokers = `127.0.0.1:${localStack.kafkaPort}`;
export const localConnectUrl = `http://127.0.0.1:${localStack.connectPort}`;
