import { ConfigError, kafkaClientOptions, loadEnv, type EnvValues } from '@settings/shared';
import { invalidatorEnvSchema } from '../config';

/**
 * The admin CLI reads the invalidator's own variables (same names, same defaults), each
 * subcommand only those it needs: `dlq` runs where only Kafka is reachable, `inspect` where only
 * Redis and PostgreSQL are.
 */
const s = invalidatorEnvSchema;

export const adminKafkaEnvSchema = {
  KAFKA_BROKERS: s.KAFKA_BROKERS,
  KAFKA_SSL: s.KAFKA_SSL,
  KAFKA_SSL_CA_FILE: s.KAFKA_SSL_CA_FILE,
  KAFKA_SASL_MECHANISM: s.KAFKA_SASL_MECHANISM,
  KAFKA_SASL_USERNAME: s.KAFKA_SASL_USERNAME,
  KAFKA_SASL_PASSWORD_FILE: s.KAFKA_SASL_PASSWORD_FILE,
  KAFKA_TOPIC_PREFIX: s.KAFKA_TOPIC_PREFIX,
  DLQ_TOPIC: s.DLQ_TOPIC,
};
export type AdminKafkaConfig = EnvValues<typeof adminKafkaEnvSchema>;

export function loadAdminKafkaConfig(source: NodeJS.ProcessEnv): AdminKafkaConfig {
  const config = loadEnv(adminKafkaEnvSchema, source);
  kafkaClientOptions(config); // TLS/SASL problems are a ConfigError now, not a failed connect later
  return config;
}

export const adminInspectEnvSchema = {
  REDIS_URL: s.REDIS_URL,
  // On a Redis Cluster the URL's host is not where a key lives: the client follows the slots.
  REDIS_CLUSTER_NODES: s.REDIS_CLUSTER_NODES,
  // The invalidator's (read-only) auditor role; sessions are read-only whatever the role.
  DATABASE_URL: s.DATABASE_URL,
};
export type AdminInspectConfig = EnvValues<typeof adminInspectEnvSchema>;

export function loadAdminInspectConfig(source: NodeJS.ProcessEnv): AdminInspectConfig {
  const config = loadEnv(adminInspectEnvSchema, source);
  if (config.DATABASE_URL === '') throw new ConfigError(['DATABASE_URL is required for inspect (PostgreSQL as a role that can SELECT the settings tables; read-only is enough)']);
  return config;
}
