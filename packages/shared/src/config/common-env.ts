import { env } from './env-config';
import { localDatabaseUrl, localKafkaBrokers, localRedisUrl } from './local-stack-endpoints';

// Endpoints have no default: outside the local stack (SETTINGS_LOCAL_STACK=1, set by its own
// scripts) an unset one is a ConfigError naming it, never a silent 127.0.0.1.

/** Variables both services read; each service spreads these into its own schema. */
export const commonEnv = {
  REDIS_URL: env.requiredOutsideLocalStack(env.url('Redis holding the settings cache; with REDIS_CLUSTER_NODES only its scheme (rediss: = TLS), user name and password are used', ['redis:', 'rediss:']), localRedisUrl),
  REDIS_CLUSTER_NODES: {
    ...env.hostPorts('seed nodes (host:port, comma separated) of a Redis Cluster holding the cache instead of one Redis; the client discovers the other masters and follows failovers'),
    default: [],
    defaultText: '(none: one Redis at REDIS_URL)',
  },
  LOG_LEVEL: env.oneOf('pino log level', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const, 'info'),
};

export const databaseEnv = {
  DATABASE_URL: env.requiredOutsideLocalStack(env.url('PostgreSQL holding the settings tables', ['postgres:', 'postgresql:']), localDatabaseUrl),
};

/** `none`, or a SASL mechanism kafkajs implements that needs only a user name and a password. */
export const KAFKA_SASL_MECHANISMS = ['none', 'plain', 'scram-sha-256', 'scram-sha-512'] as const;
export type KafkaSaslMechanism = (typeof KAFKA_SASL_MECHANISMS)[number];

export const kafkaEnv = {
  KAFKA_BROKERS: env.requiredOutsideLocalStack(env.hostPorts('Kafka bootstrap servers, comma separated'), localKafkaBrokers),
  KAFKA_CLIENT_ID: env.string('Kafka client id (shows in broker logs and metrics)', 'settings-invalidator'),
  // Security: kafkaClientOptions() (./kafka-client-options.ts) turns these into the client's
  // `ssl` and `sasl`, and checks them together. The defaults are the local stack's PLAINTEXT.
  KAFKA_SSL: env.bool('connect to Kafka over TLS, verifying the broker certificate and host name', false),
  KAFKA_SSL_CA_FILE: env.string('PEM CA bundle the broker certificates are verified against (replaces Node\'s CAs for Kafka); empty: Node\'s CAs plus NODE_EXTRA_CA_CERTS; needs KAFKA_SSL=true', ''),
  KAFKA_SASL_MECHANISM: env.oneOf('SASL mechanism (plain needs KAFKA_SSL=true: it sends the password as is)', KAFKA_SASL_MECHANISMS, 'none'),
  KAFKA_SASL_USERNAME: env.string('SASL user name; required with a SASL mechanism', ''),
  KAFKA_SASL_PASSWORD_FILE: env.string('file holding the SASL password (a mounted Secret; one trailing newline is ignored); required with a SASL mechanism', ''),
};
