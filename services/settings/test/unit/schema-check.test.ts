import type { Knex } from 'knex';
import { createLogger } from '@settings/shared';
import { SchemaCheck } from '../../src/db/schema-check';

/** A stand-in for knex's transaction and select().from().limit(), whose answer the test sets (pure logic). */
function fakeKnex(answer: () => Promise<unknown>): { knex: Knex; tables: string[] } {
  const tables: string[] = [];
  const trx = {
    raw: () => Promise.resolve(),
    select: () => ({
      from: (table: string) => {
        tables.push(table);
        return { limit: () => answer() };
      },
    }),
  };
  const knex = { transaction: async (work: (t: typeof trx) => Promise<void>) => work(trx) } as unknown as Knex;
  return { knex, tables };
}

const tick = (ms = 5): Promise<void> => new Promise((r) => setTimeout(r, ms));
const pgError = (code: string, message: string): Error => Object.assign(new Error(message), { code });

it('a table or column this release uses missing: not fitting until a later check finds the migrations applied', async () => {
  let answer: () => Promise<unknown> = () => Promise.reject(pgError('42703', 'select ... - column "new_field" does not exist'));
  const changes: boolean[] = [];
  const { knex } = fakeKnex(() => answer());
  const check = new SchemaCheck(knex, createLogger('test', 'silent'), (fits) => changes.push(fits), 20);
  await check.start();
  await tick();
  expect(check.fits).toBe(false);
  answer = () => Promise.resolve([]);
  await tick(40);
  expect(check.fits).toBe(true);
  expect(changes).toEqual([false, true]);
  check.stop();
});

it('a database that does not answer is no verdict: it still fits (readiness never waits for PostgreSQL), and it checks again', async () => {
  let calls = 0;
  const { knex } = fakeKnex(() => (calls++, Promise.reject(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED', syscall: 'connect' }))));
  const changes: boolean[] = [];
  const check = new SchemaCheck(knex, createLogger('test', 'silent'), (fits) => changes.push(fits), 10);
  await check.start();
  await tick(35);
  expect(check.fits).toBe(true);
  expect(changes).toEqual([]);
  expect(calls).toBeGreaterThan(1);
  check.stop();
});

it('checks every table the resources use, and stops once the schema fits', async () => {
  const { knex, tables } = fakeKnex(() => Promise.resolve([]));
  const check = new SchemaCheck(knex, createLogger('test', 'silent'), () => undefined, 5);
  await check.start();
  await tick(30);
  expect(tables).toEqual(['account_settings', 'doctor_settings', 'onpatient_settings', 'staff_permissions']);
  check.stop();
});
