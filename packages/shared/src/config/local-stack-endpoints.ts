/**
 * Where the project's own local stack listens (deploy/local). These are the defaults of
 * every service's configuration, so `npm start` and the tests need no environment at all;
 * in Kubernetes the same variables point at external services instead.
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
