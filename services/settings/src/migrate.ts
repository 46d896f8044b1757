import { migrateLatest, MIGRATOR_APPLICATION_NAME, MigrationLockTimeoutError } from '@settings/db';
import { databaseEnv, env, loadEnv, runMain } from '@settings/shared';
import { createKnex } from './db/db';
import { missingFromPublication } from './db/publication-check';

// Applies pending migrations and exits: run as a Kubernetes Job (or init step) before rollout.
// Safe to run concurrently from several pods: migrateLatest serialises on an advisory lock.
// Reads and saves never queue behind it for long: each statement waits at most
// MIGRATION_LOCK_TIMEOUT_MS for a table lock, then the try is rolled back and repeated.
const migrateEnvSchema = {
  ...databaseEnv,
  REQUIRE_PUBLICATION: env.string('after migrating, fail unless this publication exists and lists every table of REQUIRE_PUBLICATION_TABLES (the Kubernetes Job: the connector must not be applied before the DBA ran bootstrap.sql again); empty: no check', ''),
  REQUIRE_PUBLICATION_TABLES: env.string("comma-separated schema-qualified tables, the connector's table.include.list", ''),
  MIGRATION_LOCK_TIMEOUT_MS: env.int("longest wait of one migration statement for a table lock (lock_timeout); reads and saves of that table queue behind a waiting ALTER, so past this the try is rolled back and repeated later; keep it below the service's DB_LOCK_TIMEOUT_MS", 200, { min: 1 }),
  MIGRATION_LOCK_ATTEMPTS: env.int('tries before the job exits 3 when every one timed out waiting for a table lock (pauses double from 0.5 s up to 15 s: 20 tries pause 3.8 minutes in all)', 20, { min: 1 }),
  LOG_LEVEL: env.oneOf('pino log level', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const, 'info'),
};

// A job for runMain: a configuration error exits 2, a failed migration 1, every try timed out
// waiting for a table lock 3 (the Kubernetes Job fails at once on it: podFailurePolicy), success 0; a signal
// mid-migration exits at once (the open transaction is rolled back with its connection).
runMain({
  name: 'settings-migrate',
  loadConfig: () => loadEnv(migrateEnvSchema),
  async start(config, log) {
    // migrateLatest holds its lock on one connection and migrates on another.
    // Its own application_name: the session holding the advisory lock is not the one to end.
    const knex = createKnex(config.DATABASE_URL, 2, 60_000, MIGRATOR_APPLICATION_NAME, log);
    try {
      const t0 = Date.now();
      try {
        await migrateLatest(knex, {
          lockTimeoutMs: config.MIGRATION_LOCK_TIMEOUT_MS,
          attempts: config.MIGRATION_LOCK_ATTEMPTS,
          onLockTimeout: (r) =>
            log.warn(
              { migration: r.migration, attempt: r.attempt, attempts: r.attempts, retryInMs: r.delayMs, error: r.message },
              'migration waited longer than MIGRATION_LOCK_TIMEOUT_MS for a table lock another transaction holds; rolled back, trying again',
            ),
          // A rollback: this release runs on the newer schema (each release's migrations keep the previous release working).
          onDatabaseAhead: (unknown) => log.warn({ unknown }, 'the database has migrations of a newer release (a rollback?): nothing applied; this release runs on that schema'),
        });
      } catch (err) {
        if (!(err instanceof MigrationLockTimeoutError)) throw err;
        // Another pod of the Job would wait for the same holder: exit 3, which fails the Job.
        log.error({ err }, err.message);
        return 3;
      }
      log.info({ ms: Date.now() - t0 }, 'migrations applied');
      if (config.REQUIRE_PUBLICATION !== '') {
        const required = config.REQUIRE_PUBLICATION_TABLES.split(',').map((t) => t.trim()).filter((t) => t !== '');
        const missing = await missingFromPublication(knex, config.REQUIRE_PUBLICATION, required);
        if (missing.length > 0) {
          throw new Error(
            `migrations applied, but publication ${config.REQUIRE_PUBLICATION} does not list ${missing.join(', ')}: run deploy/postgres/bootstrap.sql again as the DBA ` +
              `(now that the tables exist it creates the publication and the replication user's grants), then run the install again; ` +
              `the connector is not applied before that (it would fail for lack of table ownership and stay FAILED)`,
          );
        }
        log.info({ publication: config.REQUIRE_PUBLICATION, tables: required.length }, 'publication lists every table the connector streams');
      }
    } finally {
      await knex.destroy();
    }
  },
});
