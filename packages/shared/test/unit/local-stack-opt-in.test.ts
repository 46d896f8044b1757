import { commonEnv, ConfigError, databaseEnv, describeEnv, kafkaEnv, loadEnv, localDatabaseUrl, localKafkaBrokers, localRedisUrl } from '../../src';

/**
 * Endpoints are required outside the local stack: an unset DATABASE_URL in production must stop
 * the start, not quietly become 127.0.0.1:25432. Only SETTINGS_LOCAL_STACK=1, which the stack's
 * own scripts set, turns an unset endpoint into the local stack's address.
 */
const schema = { ...commonEnv, ...databaseEnv, ...kafkaEnv };

function problemsOf(env: NodeJS.ProcessEnv): readonly string[] {
  try {
    loadEnv(schema, env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

it('without the opt-in, every unset endpoint is a problem of its own, named', () => {
  expect(problemsOf({})).toEqual([
    'REDIS_URL is required (Redis holding the settings cache; with REDIS_CLUSTER_NODES only its scheme (rediss: = TLS), user name and password are used)',
    'DATABASE_URL is required (PostgreSQL holding the settings tables)',
    'KAFKA_BROKERS is required (Kafka bootstrap servers, comma separated)',
  ]);
  expect(problemsOf({ SETTINGS_LOCAL_STACK: '0', REDIS_URL: 'redis://cache:6379' })).toEqual([
    'DATABASE_URL is required (PostgreSQL holding the settings tables)',
    'KAFKA_BROKERS is required (Kafka bootstrap servers, comma separated)',
  ]);
});

it('with SETTINGS_LOCAL_STACK=1 unset endpoints are the local stack, and set ones still win', () => {
  expect(loadEnv(schema, { SETTINGS_LOCAL_STACK: '1' })).toMatchObject({ REDIS_URL: localRedisUrl, DATABASE_URL: localDatabaseUrl, KAFKA_BROKERS: localKafkaBrokers.split(',') });
  expect(loadEnv(schema, { SETTINGS_LOCAL_STACK: 'true', DATABASE_URL: 'postgres://db:5432/settings' }).DATABASE_URL).toBe('postgres://db:5432/settings');
});

it('a malformed opt-in is a problem too, not a silent yes or no', () => {
  expect(problemsOf({ SETTINGS_LOCAL_STACK: 'maybe', REDIS_URL: 'redis://cache:6379', DATABASE_URL: 'postgres://db/settings', KAFKA_BROKERS: 'kafka:9092' })).toEqual([
    'SETTINGS_LOCAL_STACK="maybe": expected true or false (set by the local stack\'s scripts only)',
  ]);
});

it('docs show the endpoints as required, with what they mean on the local stack', () => {
  const rows = describeEnv(schema);
  expect(rows.find((r) => r.name === 'DATABASE_URL')).toEqual({ name: 'DATABASE_URL', default: '(required)', description: 'PostgreSQL holding the settings tables', localStackDefault: localDatabaseUrl });
  expect(rows.find((r) => r.name === 'LOG_LEVEL')).toEqual({ name: 'LOG_LEVEL', default: 'info', description: 'pino log level' });
});
