/**
 * Where the project's own local stack listens (deploy/local). They are the services' endpoints
 * only in processes the stack's own scripts start (`SETTINGS_LOCAL_STACK=1`: `npm start`, the
 * tests), which need no other environment; everywhere else DATABASE_URL, REDIS_URL and
 * KAFKA_BROKERS are required and, in Kubernetes, point at external services.
 *
 * Non-default ports on purpose: the machine may already run a PostgreSQL on 5432 and a
 * Redis on 6379, and tests must never touch those. Every port is below Linux's ephemeral range
 * (32768-60999 by default): the chaos suite stops and starts PostgreSQL, Redis, Kafka and
 * Connect in the middle of a run, when thousands of client sockets take ephemeral ports, and a
 * listening port taken as one's source port fails the restart ("Address already in use"; seen
 * for the cluster's bus port in a bench run). Test processes get ports from `freePort`, which
 * picks from 30000-32767, clear of these.
 */
export const localStack = {
  postgresPort: 25432,
  redisPort: 26379,
  /**
   * The on-demand three-master Redis Cluster (`npm run stack -- cluster up`), its buses 10000
   * below.
   */
  redisClusterPorts: [26380, 26381, 26382],
  kafkaPort: 29092,
  kafkaControllerPort: 29093,
  connectPort: 28083,
  database: 'settings',
  /** Debezium's `topic.prefix`; change topics are `<prefix>.public.<table>`. */
  topicPrefix: 'settings',
} as const;

/**
 * The local stack runs every process as the role it would have in production (the roles of
 * deploy/postgres/bootstrap.sql, which `up` applies), so the documented grants are exercised by
 * every test run: the services as the DML-only app role, migrations as the schema owner,
 * Debezium as the replication role. Only the stack itself and test set-up use the superuser.
 */
export const localDatabaseRoles = { app: 'settings_app', owner: 'settings_owner', replication: 'debezium_settings', auditor: 'settings_auditor', admin: 'postgres' } as const;

const localDatabaseUrlAs = (role: string): string => `postgres://${role}@127.0.0.1:${localStack.postgresPort}/${localStack.database}`;

/** The settings service's database (DML only). */
export const localDatabaseUrl = localDatabaseUrlAs(localDatabaseRoles.app);
/** The invalidator's staleness auditor (SELECT on the cached tables only). */
export const localAuditorDatabaseUrl = localDatabaseUrlAs(localDatabaseRoles.auditor);
/** Migrations (schema owner: DDL on its own objects, nothing else). */
export const localMigratorDatabaseUrl = localDatabaseUrlAs(localDatabaseRoles.owner);
/** The local superuser: stack set-up and test fixtures (TRUNCATE, pg_stat_activity) only. */
export const localAdminDatabaseUrl = localDatabaseUrlAs(localDatabaseRoles.admin);
export const localRedisUrl = `redis://127.0.0.1:${localStack.redisPort}`;
/** Seed nodes of the on-demand Redis Cluster, in the form of REDIS_CLUSTER_NODES. */
export const localRedisClusterNodes = localStack.redisClusterPorts.map((p) => `127.0.0.1:${p}`).join(',');
export const localKafkaBrokers = `127.0.0.1:${localStack.kafkaPort}`;
export const localConnectUrl = `http://127.0.0.1:${localStack.connectPort}`;

/**
 * The HS256 secret development tokens of the local stack are signed with (`npm run token`).
 * Public by design, like the stack's passwordless roles: a service started with it
 * (`AUTH_MODE=jwt JWT_HS256_SECRET=<this>`) must never be reachable from anywhere else.
 */
export const localDevJwtHs256Secret = 'settings-local-stack-development-only-hs256-secret';
