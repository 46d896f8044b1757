import { migrateLatest } from '@settings/db';
import { ConfigError, createLogger, databaseEnv, env, loadEnv } from '@settings/shared';
import { createKnex } from './db/db';

// Applies pending migrations and exits: run as a Kubernetes Job (or init step) before rollout.
// Safe to run concurrently from several pods: migrateLatest serialises on an advisory lock.
const migrateEnvSchema = {
  ...databaseEnv,
  LOG_LEVEL: env.oneOf('pino log level', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const, 'info'),
};

async function main(): Promise<void> {
  let config;
  try {
    config = loadEnv(migrateEnvSchema);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`settings-migrate: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const log = createLogger('settings-migrate', config.LOG_LEVEL);
  // migrateLatest holds its lock on one connection and migrates on another.
  const knex = createKnex(config.DATABASE_URL, 2, 60_000);
  try {
    const t0 = Date.now();
    await migrateLatest(knex);
    log.info({ ms: Date.now() - t0 }, 'migrations applied');
  } finally {
    await knex.destroy();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`settings-migrate failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
