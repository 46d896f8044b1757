import { env } from './env-config';
import { localDatabaseUrl, localKafkaBrokers, localRedisUrl } from './local-stack-endpoints';

// Endpoints have no default: outside the local stack (SETTINGS_LOCAL_STACK=1, set by its own
// scripts) an unset one is a ConfigError naming it, never a silent 127.0.0.1.

/** Variables both services read; each service spreads these into its own schema. */
export const commonEnv = {
  REDIS_URL: env.requiredOutsideLocalStack(env.url('Redis holding the settings cache', ['redis:', 'rediss:']), localRedisUrl),
  LOG_LEVEL: env.oneOf('pino log level', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const, 'info'),
};

export const databaseEnv = {
  DATABASE_URL: env.requiredOutsideLocalStack(env.url('PostgreSQL holding the settings tables', ['postgres:', 'postgresql:']), localDatabaseUrl),
};

export const kafkaEnv = {
  KAFKA_BROKERS: env.requiredOutsideLocalStack(env.hostPorts('Kafka bootstrap servers, comma separated'), localKafkaBrokers),
  KAFKA_CLIENT_ID: env.string('Kafka client id (shows in broker logs and metrics)', 'settings-invalidator'),
};
