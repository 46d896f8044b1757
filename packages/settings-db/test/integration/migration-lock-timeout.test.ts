import { randomBytes } from 'node:crypto';
import knexFactory, { type Knex } from 'knex';
import { localMigratorDatabaseUrl } from '@settings/shared';
import { migrateLatest, MigrationLockTimeoutError, type MigrationLockRetry, type NamedMigration } from '../../src';

/**
 * A migration that needs an ACCESS EXCLUSIVE lock while another transaction holds the table
 * (here: a session idle in transaction after a SELECT, as a person in psql leaves one) must not
 * become a queue that every later read and save of the table waits in. Against the local
 * stack's PostgreSQL, on a scratch table with knex bookkeeping tables of its own (the migration
 * owner may not create schemas; the connector's publication lists its tables by name).
 */
// knex warns on console for each rolled-back try; the retries are asserted instead.
const open = (max: number): Knex => knexFactory({ client: 'pg', connection: localMigratorDatabaseUrl, pool: { min: 0, max }, log: { warn: () => undefined } });
const admin = open(1);
const migrator = open(2);

let probe: string;
let tableName: string;
let migrations: NamedMigration[];

beforeEach(async () => {
  const scratch = `mig_lock_${randomBytes(4).toString('hex')}`;
  probe = `${scratch}_probe`;
  tableName = `${scratch}_migrations`;
  await admin.raw(`CREATE TABLE ${probe} (id int PRIMARY KEY); INSERT INTO ${probe} VALUES (1)`);
  migrations = [
    {
      name: 'probe_add_column',
      up: async (trx) => { await trx.raw(`ALTER TABLE ${probe} ADD COLUMN extra int`); },
      down: async (trx) => { await trx.raw(`ALTER TABLE ${probe} DROP COLUMN extra`); },
    },
  ];
});

afterEach(async () => {
  await admin.raw(`DROP TABLE IF EXISTS ${probe}, ${probe}_side, ${tableName}, ${tableName}_lock`);
});

afterAll(async () => {
  await Promise.all([admin.destroy(), migrator.destroy()]);
});

/** A transaction that has read the table and stays open (ACCESS SHARE held) until released. */
async function holdTable(): Promise<{ release: () => Promise<void> }> {
  const blocker = open(1);
  const trx = await blocker.transaction();
  await trx.raw(`SELECT * FROM ${probe}`);
  let released: Promise<void> | undefined;
  return {
    release: () => (released ??= trx.commit().then(() => blocker.destroy())),
  };
}

/** How long a plain read of the table takes, from its own connection. */
async function timedRead(reader: Knex): Promise<number> {
  const t0 = performance.now();
  await reader.raw(`SELECT count(*) FROM ${probe}`);
  return performance.now() - t0;
}

async function hasExtraColumn(): Promise<boolean> {
  const { rows } = await admin.raw(`SELECT 1 FROM information_schema.columns WHERE table_name = ? AND column_name = 'extra'`, [probe]);
  return rows.length === 1;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('migrateLatest behind a transaction that holds the table', () => {
  it('lets reads of the table through while it waits, and applies the migration once the holder ends', async () => {
    const held = await holdTable();
    const reader = open(1);
    // Without the bound a read would wait for the holder: make that a failed read, not a hang.
    await reader.raw(`SET statement_timeout = '3s'`);
    const retries: MigrationLockRetry[] = [];
    try {
      const migrating = migrateLatest(migrator, { migrations, tableName, lockTimeoutMs: 200, attempts: 100, retryDelayMs: 100, maxRetryDelayMs: 100, onLockTimeout: (r) => retries.push(r) });
      // Reads arriving while the migration is queued for its lock: each waits at most one
      // lock_timeout (200 ms) plus the scheduling noise of this machine (up to ~2 s on a loaded
      // CI machine), never the holder's life (that read fails at its 3 s statement_timeout).
      const readMs: number[] = [];
      for (let i = 0; i < 6; i++) {
        await sleep(150);
        readMs.push(await timedRead(reader));
      }
      expect(Math.max(...readMs)).toBeLessThan(2000);
      expect(retries.length).toBeGreaterThan(0);
      expect(retries[0]).toMatchObject({ attempt: 1, attempts: 100, delayMs: 100, migration: 'probe_add_column' });
      expect(await hasExtraColumn()).toBe(false);

      await held.release();
      await migrating;
      expect(await hasExtraColumn()).toBe(true);
    } finally {
      await held.release();
      await reader.destroy();
    }
  });

  it('gives up after its tries with an error that says what to look for, having changed nothing (earlier migrations of the batch included), and a later run applies it', async () => {
    const held = await holdTable();
    // A migration before the blocked one: rolled back with the batch on every try.
    const batch: NamedMigration[] = [
      { name: 'probe_side_table', up: async (trx) => { await trx.raw(`CREATE TABLE ${probe}_side (id int)`); }, down: async (trx) => { await trx.raw(`DROP TABLE ${probe}_side`); } },
      ...migrations,
    ];
    let failure: unknown;
    try {
      failure = await migrateLatest(migrator, { migrations: batch, tableName, lockTimeoutMs: 100, attempts: 3, retryDelayMs: 50 }).catch((e: unknown) => e);
    } finally {
      await held.release();
    }
    expect(failure).toBeInstanceOf(MigrationLockTimeoutError);
    expect((failure as Error).message).toContain('3 tries each waited 100 ms');
    expect((failure as Error).message).toContain('pg_stat_activity');
    expect(await hasExtraColumn()).toBe(false);
    expect((await admin.raw(`SELECT to_regclass(?) AS t`, [`${probe}_side`])).rows[0].t).toBeNull();
    migrations = batch;
    // knex's own lock row was released with the rolled-back transaction: the next run is not
    // refused with "Migration table is already locked".
    await migrateLatest(migrator, { migrations, tableName, lockTimeoutMs: 100, attempts: 1 });
    expect(await hasExtraColumn()).toBe(true);
  });

  it('refuses a migration that would run outside the batch transaction (a retry would re-run it half applied)', async () => {
    const outside: NamedMigration = { ...migrations[0]!, config: { transaction: false } };
    await expect(migrateLatest(migrator, { migrations: [outside], tableName })).rejects.toThrow('config.transaction = false');
    expect(await hasExtraColumn()).toBe(false);
  });
});

// The advisory-lock session idles in its transaction while the migrations run on another
// connection: with a server-wide idle_in_transaction_session_timeout (common hardening) the
// server ended it, the lock went early, and the final COMMIT failed after the migrations applied.
it('holds its advisory lock through a migration longer than idle_in_transaction_session_timeout, and reports success', async () => {
  const strict = knexFactory({ client: 'pg', connection: { connectionString: localMigratorDatabaseUrl, options: '-c idle_in_transaction_session_timeout=300' }, pool: { min: 0, max: 2 } });
  const slow: NamedMigration[] = [
    {
      name: 'probe_slow',
      up: async (trx) => { await trx.raw(`SELECT pg_sleep(1); ALTER TABLE ${probe} ADD COLUMN extra int`); },
      down: async (trx) => { await trx.raw(`ALTER TABLE ${probe} DROP COLUMN extra`); },
    },
  ];
  try {
    await migrateLatest(strict, { migrations: slow, tableName });
    expect(await hasExtraColumn()).toBe(true);
  } finally {
    await strict.destroy();
  }
});
