import type { Knex } from 'knex';
import { migrations, SettingsMigrationSource, type NamedMigration } from './migrations';

// Any fixed key works; it must be the same in every replica and unused by other lock users.
const MIGRATION_ADVISORY_LOCK = 0x5e77_1265;

/** application_name of the migrator's sessions: its own lock-holding session is not the holder to look for. */
export const MIGRATOR_APPLICATION_NAME = 'settings-migrate';

/** SQLSTATE lock_not_available: a statement's wait for a lock ended by `lock_timeout`. */
const LOCK_NOT_AVAILABLE = '55P03';

export interface MigrateOptions {
  /**
   * Longest wait of one migration statement for a table lock (`lock_timeout`), in ms.
   *
   * Why it exists: `ALTER TABLE`, `CREATE TRIGGER` and the like take an ACCESS EXCLUSIVE lock.
   * Behind a long transaction on the table (a bulk UPDATE, a session left idle in transaction in
   * psql) the migration waits in the lock queue, and every later read and save of that table
   * queues behind the migration: saving settings stalls for as long as the other transaction
   * lives. Bounded, the migration gives up after this long, rolls back, and tries again later,
   * so the saves and reads queued behind it run in between. Default 200 ms: below the settings
   * service's own save lock budget (DB_LOCK_TIMEOUT_MS, 250 ms), so a save queued behind a waiting
   * migration statement still gets its turn instead of failing ROW_LOCKED.
   */
  readonly lockTimeoutMs?: number;
  /** Tries in all before the migration fails (each rolled back whole). Default 20. */
  readonly attempts?: number;
  /** Pause after the first lock timeout, doubled each time up to `maxRetryDelayMs`. Default 500 ms. */
  readonly retryDelayMs?: number;
  /** Longest pause between tries. Default 15 s (20 tries: 3.8 minutes of pauses in all). */
  readonly maxRetryDelayMs?: number;
  /** Told before each pause, so a Job's log shows why it has not finished. */
  readonly onLockTimeout?: (retry: MigrationLockRetry) => void;
  /** The migrations to apply; tests pass their own, with their own `tableName`. */
  readonly migrations?: readonly NamedMigration[];
  /** knex's bookkeeping table and its schema. Default knex_migrations in the search path's schema. */
  readonly tableName?: string;
  readonly schemaName?: string;
  /**
   * Told when the database has migrations this code does not know, all after the ones it
   * knows: a newer release ran, and this one (a rollback) runs on its schema. Nothing is applied.
   */
  readonly onDatabaseAhead?: (unknown: readonly string[]) => void;
}

/** The applied migrations do not fit this code's list: another branch, not a newer release. */
export class MigrationHistoryMismatchError extends Error {
  constructor(detail: string) {
    super(`the database's applied migrations do not fit this release's: ${detail}; nothing was changed`);
    this.name = 'MigrationHistoryMismatchError';
  }
}

/**
 * What the applied migrations (in order) say about this code's list: undefined when they are a
 * prefix of it (some may be pending), the unknown ones when a newer release applied migrations
 * after every one this code knows (a rollback; nothing to apply), an error otherwise.
 */
export function databaseAhead(applied: readonly string[], known: readonly string[]): readonly string[] | undefined {
  const knownSet = new Set(known);
  const firstUnknown = applied.findIndex((name) => !knownSet.has(name));
  if (firstUnknown < 0) return undefined;
  const unknown = applied.slice(firstUnknown);
  const knownAfter = unknown.filter((name) => knownSet.has(name));
  if (knownAfter.length > 0) throw new MigrationHistoryMismatchError(`${knownAfter.join(', ')} applied after unknown ${applied[firstUnknown]}`);
  const pending = known.filter((name) => !applied.includes(name));
  if (pending.length > 0) throw new MigrationHistoryMismatchError(`unknown ${unknown.join(', ')} applied, while ${pending.join(', ')} of this release are not`);
  return unknown;
}

export interface MigrationLockRetry {
  /** The try that timed out, from 1. */
  readonly attempt: number;
  readonly attempts: number;
  /** Pause before the next try, in ms. */
  readonly delayMs: number;
  /** The migration whose statement timed out, when knex names it. */
  readonly migration: string | undefined;
  readonly message: string;
}

/** A migration gave up: every try timed out waiting for a lock another transaction held. */
export class MigrationLockTimeoutError extends Error {
  constructor(
    readonly attempts: number,
    readonly lockTimeoutMs: number,
    cause: unknown,
  ) {
    super(
      `migrations not applied: ${attempts} tries each waited ${lockTimeoutMs} ms for a table lock another transaction held; ` +
        `nothing was changed. Find the holder with SELECT pid, application_name, state, xact_start, query FROM pg_stat_activity ` +
        `WHERE state <> 'idle' AND pid <> pg_backend_pid() AND application_name <> '${MIGRATOR_APPLICATION_NAME}' ORDER BY xact_start ` +
        `(often a session idle in transaction), end it or wait for it, and run the migration again`,
      { cause },
    );
    this.name = 'MigrationLockTimeoutError';
  }
}

/**
 * Applies all pending migrations, in one transaction, each statement waiting at most
 * `lockTimeoutMs` for a table lock (see MigrateOptions.lockTimeoutMs); a try that times out is
 * rolled back whole and the batch is tried again after a pause.
 *
 * Replicas may call this concurrently at start-up. knex's own lock table is not enough for that:
 * on an empty database concurrent runners race to create knex_migrations and all but one fail
 * (and two runners can each insert a lock row, which makes every later run fail with "Migration
 * table is already locked"). So runners first queue on a Postgres advisory lock, held by a
 * transaction on a second pool connection and released automatically if the process dies.
 * Needs a knex pool with at least 2 connections.
 */
export async function migrateLatest(knex: Knex, options: MigrateOptions = {}): Promise<void> {
  const list = options.migrations ?? migrations;
  // A migration outside the batch transaction would commit on its own: a retry after a lock
  // timeout would re-run what is already applied, and SET LOCAL outside a transaction lasts
  // one statement, so it would wait for locks unbounded. Every migration runs in the batch.
  const untransacted = list.filter((m) => m.config?.transaction === false).map((m) => m.name);
  if (untransacted.length > 0) throw new Error(`migrations ${untransacted.join(', ')} set config.transaction = false; every migration must run in the batch's transaction (lock_timeout and whole-batch retries depend on it)`);
  const lockTimeoutMs = options.lockTimeoutMs ?? 200;
  const attempts = Math.max(1, options.attempts ?? 20);
  let running: string | undefined;
  const config: Knex.MigratorConfigWithLifecycleHooks = {
    migrationSource: new SettingsMigrationSource(list),
    // knex refuses to run when the database has a migration the code does not list ("migration
    // directory is corrupt"): the previous release's migration Job failed after every upgrade, so
    // a rollback through the documented deploy path stopped there. Checked here instead
    // (databaseAhead): a newer release's migrations after all of ours are fine.
    disableMigrationsListValidation: true,
    ...(options.tableName === undefined ? {} : { tableName: options.tableName }),
    ...(options.schemaName === undefined ? {} : { schemaName: options.schemaName }),
    // Runs inside the batch's transaction before each migration: set_config(..., true) is SET
    // LOCAL, so the bound ends with that transaction and never leaks into the pooled connection.
    beforeEach: async (trx, batch) => {
      // knex passes the migration objects our source listed: NamedMigration.
      running = (batch[0] as NamedMigration | undefined)?.name;
      await trx.raw(`SELECT set_config('lock_timeout', ?, true)`, [`${lockTimeoutMs}ms`]);
    },
  };
  await knex.transaction(async (lockTrx) => {
    // This session only holds the lock and sits idle in its transaction while the migrations
    // run on another connection (retry pauses included): a server-wide
    // idle_in_transaction_session_timeout would end it, releasing the lock early and failing
    // the final COMMIT after the migrations were applied.
    await lockTrx.raw(`SELECT set_config('idle_in_transaction_session_timeout', '0', true)`);
    await lockTrx.raw('SELECT pg_advisory_xact_lock(?)', [MIGRATION_ADVISORY_LOCK]);
    const table = options.tableName ?? 'knex_migrations';
    const qualified = options.schemaName === undefined ? table : `${options.schemaName}.${table}`;
    const hasTable = options.schemaName === undefined ? await lockTrx.schema.hasTable(table) : await lockTrx.schema.withSchema(options.schemaName).hasTable(table);
    if (hasTable) {
      const rows = (await lockTrx.select('name').from(qualified).orderBy('id')) as Array<{ name: string }>;
      const ahead = databaseAhead(
        rows.map((r) => r.name),
        list.map((m) => m.name),
      );
      if (ahead !== undefined) {
        options.onDatabaseAhead?.(ahead);
        return;
      }
    }
    for (let attempt = 1; ; attempt++) {
      running = undefined;
      try {
        await knex.migrate.latest(config);
        return;
      } catch (err) {
        if ((err as { code?: unknown }).code !== LOCK_NOT_AVAILABLE) throw err;
        if (attempt >= attempts) throw new MigrationLockTimeoutError(attempts, lockTimeoutMs, err);
        const delayMs = Math.min(options.maxRetryDelayMs ?? 15_000, (options.retryDelayMs ?? 500) * 2 ** (attempt - 1));
        options.onLockTimeout?.({
          attempt,
          attempts,
          delayMs,
          migration: running,
          message: (err as Error).message,
        });
        await new Promise((resolve) => setTimeout(resolve, delayMs));
      }
    }
  });
}
