import { randomBytes } from 'node:crypto';
import knexFactory, { type Knex } from 'knex';
import { localMigratorDatabaseUrl } from '@settings/shared';
import { migrateLatest, MigrationHistoryMismatchError, type NamedMigration } from '../../src';

/**
 * A rollback runs the previous release's migration Job on a database a newer release migrated
 * (docs/operations.md: each release's migrations keep the previous release working). Against the
 * local stack's PostgreSQL, with scratch tables and knex bookkeeping tables of the test's own.
 */
const open = (max: number): Knex => knexFactory({ client: 'pg', connection: localMigratorDatabaseUrl, pool: { min: 0, max }, log: { warn: () => undefined } });
const admin = open(1);
const migrator = open(2);
const scratch = `mig_ahead_${randomBytes(4).toString('hex')}`;
const tableName = `${scratch}_migrations`;

const createTable = (n: number): NamedMigration => ({
  name: `${scratch}_${n}`,
  up: async (trx) => void (await trx.raw(`CREATE TABLE ${scratch}_t${n} (id int)`)),
  down: async (trx) => void (await trx.raw(`DROP TABLE ${scratch}_t${n}`)),
});

afterAll(async () => {
  await admin.raw(`DROP TABLE IF EXISTS ${scratch}_t1, ${scratch}_t2, ${scratch}_t3, ${tableName}, ${tableName}_lock`);
  await Promise.all([admin.destroy(), migrator.destroy()]);
});

it("the previous release's migration run succeeds on a database a newer release migrated, applying nothing; another branch's history is refused", async () => {
  const [one, two, three] = [1, 2, 3].map(createTable) as [NamedMigration, NamedMigration, NamedMigration];
  await migrateLatest(migrator, { migrations: [one, two], tableName });
  // Release N (knows only `one`) after N+1 applied `two`: knex called this "migration directory is corrupt".
  const ahead: string[][] = [];
  await migrateLatest(migrator, { migrations: [one], tableName, onDatabaseAhead: (unknown) => void ahead.push([...unknown]) });
  expect(ahead).toEqual([[two.name]]);
  expect((await admin.select('name').from(tableName).orderBy('id')).map((r: { name: string }) => r.name)).toEqual([one.name, two.name]);
  // A release whose own pending migration sits beside an unknown applied one: not a rollback.
  await expect(migrateLatest(migrator, { migrations: [one, three], tableName })).rejects.toBeInstanceOf(MigrationHistoryMismatchError);
  expect(await admin.schema.hasTable(`${scratch}_t3`)).toBe(false);
});
