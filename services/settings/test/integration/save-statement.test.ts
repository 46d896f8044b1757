import type { Knex } from 'knex';
import { AccountSettings } from '@settings/api';
import { lockAccountRow } from '../support/row-lock';
import { accountsDeletedAfterAll, db, expectError, serverForTests } from '../support/test-server';

/**
 * A save of a row nobody else holds is one statement on the write pool (issue 11, incident
 * replay): a transaction's BEGIN, timeouts, lock, update and COMMIT are five round trips, each
 * holding a write connection while a busy process gets to the next, and under a save burst that
 * queue, not PostgreSQL, timed saves out. Rows that are missing or held by someone else still go
 * through the transaction (bulkheads.test.ts).
 */
const newAccount = accountsDeletedAfterAll();
const t = serverForTests({ DB_LOCK_WAIT_MAX_CONCURRENCY: '1', DB_LOCK_TIMEOUT_MS: '60000' });

const save = (accountId: string, displayName: string, etag = '') => ({
  accountSettings: AccountSettings.fromPartial({ name: `accounts/${accountId}/settings`, displayName, etag }),
  updateMask: ['display_name'],
  allowMissing: true,
});

/** The SQL `work` sends on the service's write pool. */
async function statementsSent(work: () => Promise<unknown>): Promise<string[]> {
  const sent: string[] = [];
  const onQuery = (q: Knex.Sql): number => sent.push(q.sql);
  const writeKnex = t.running.writeKnex;
  writeKnex.on('query', onQuery);
  try {
    await work();
  } finally {
    writeKnex.off('query', onQuery);
  }
  return sent;
}

it('updates a row nobody else holds with one statement: no BEGIN, no COMMIT', async () => {
  const a = newAccount();
  const created = await t.call('updateAccountSettings', save(a, 'created'));
  let saved: AccountSettings | undefined;
  const sent = await statementsSent(async () => (saved = await t.call('updateAccountSettings', save(a, 'saved', created.etag))));
  expect(sent).toHaveLength(1);
  expect(saved!.displayName).toBe('saved');
  expect(BigInt(saved!.etag)).toBeGreaterThan(BigInt(created.etag));
  expect(await db('SELECT display_name, version::text FROM account_settings WHERE account_id = $1', [a])).toEqual([{ display_name: 'saved', version: saved!.etag }]);
});

it('refuses a stale etag in that one statement with ABORTED ETAG_MISMATCH and writes nothing', async () => {
  const a = newAccount();
  const first = await t.call('updateAccountSettings', save(a, 'one'));
  await t.call('updateAccountSettings', save(a, 'two'));
  const sent = await statementsSent(async () => {
    const err = await expectError(() => t.call('updateAccountSettings', save(a, 'three', first.etag)));
    expect({ code: err.code, reason: err.reason }).toEqual({ code: 10, reason: 'ETAG_MISMATCH' });
  });
  expect(sent).toHaveLength(1);
  expect(await db('SELECT display_name FROM account_settings WHERE account_id = $1', [a])).toEqual([{ display_name: 'two' }]);
});

it('refuses a row someone else holds with ROW_LOCKED in that one statement when every lock wait is taken', async () => {
  const [a, b] = [newAccount(), newAccount()];
  await t.call('updateAccountSettings', save(a, 'held'));
  await t.call('updateAccountSettings', save(b, 'held too'));
  const [lockA, lockB] = [await lockAccountRow(a), await lockAccountRow(b)];
  try {
    // The one lock wait of this process: a save of `a`, waiting in its transaction.
    const waiting = t.call('updateAccountSettings', save(a, 'waits'), { deadlineMs: 10_000 });
    await lockA.waiter();
    const sent = await statementsSent(async () => {
      const err = await expectError(() => t.call('updateAccountSettings', save(b, 'refused'), { deadlineMs: 10_000 }));
      expect({ code: err.code, reason: err.reason }).toEqual({ code: 10, reason: 'ROW_LOCKED' });
    });
    expect(sent).toHaveLength(1);
    await lockA.release();
    expect((await waiting).displayName).toBe('waits');
  } finally {
    await lockA.release();
    await lockB.release();
  }
  expect(await db('SELECT display_name FROM account_settings WHERE account_id = $1', [b])).toEqual([{ display_name: 'held too' }]);
});

it('waits for a row someone else holds with no probes before the wait: BEGIN, timeouts, SELECT … FOR UPDATE, UPDATE, COMMIT after the one statement', async () => {
  const a = newAccount();
  await t.call('updateAccountSettings', save(a, 'held'));
  const lock = await lockAccountRow(a);
  try {
    const sent = await statementsSent(async () => {
      const waiting = t.call('updateAccountSettings', save(a, 'waited'), { deadlineMs: 10_000 });
      await lock.waiter();
      await lock.release();
      expect((await waiting).displayName).toBe('waited');
    });
    // Each statement is a round trip a busy process answers late while the transaction stays
    // open (incident replay: backends "idle in transaction" between them); the one statement
    // already said the row is held, so nothing probes it again before the wait.
    expect(sent.map(statementKind)).toEqual(['one-statement save', 'BEGIN', 'timeouts', 'lock wait', 'UPDATE', 'COMMIT']);
  } finally {
    await lock.release();
  }
});

function statementKind(sql: string): string {
  if (/^with "found"/i.test(sql)) return 'one-statement save';
  if (/^begin/i.test(sql)) return 'BEGIN';
  if (/^commit/i.test(sql)) return 'COMMIT';
  if (/set_config\('statement_timeout'/i.test(sql)) return 'timeouts';
  if (/for update skip locked/i.test(sql)) return 'probe: free?';
  if (/for update/i.test(sql)) return 'lock wait';
  if (/^update/i.test(sql)) return 'UPDATE';
  return sql;
}
