import { migrateLatest } from '@settings/db';
import { databaseEnv, env, loadEnv, runMain } from '@settings/shared';
import { createKnex } from './db/db';

// Applies pending migrations and exits: run as a Kubernetes Job (or init step) before rollout.
// Safe to run concurrently from several pods: migrateLatest serialises on an advisory lock.
const migrateEnvSchema = {
  ...databaseEnv,
  LOG_LEVEL: env.oneOf('pino log level', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const, 'info'),
};

// A job for runMain: a configuration error exits 2, a failed migration 1, success 0; a signal
// mid-migration exits at once (the open transaction is rolled back with its connection).
runMain({
  name: 'settings-migrate',
  loadConfig: () => loadEnv(migrateEnvSchema),
  async start(config, log) {
    // migrateLatest holds its lock on one connection and migrates on another.
    const knex = createKnex(config.DATABASE_URL, 2, 60_000);
    try {
      const t0 = Date.now();
      await migrateLatest(knex);
      log.info({ ms: Date.now() - t0 }, 'migrations applied');
    } finally {
      await knex.destroy();
    }
  },
});
