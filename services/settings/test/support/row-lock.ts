import { Client } from 'pg';
import { localDatabaseUrl } from '@settings/shared';
import { db, waitFor } from './test-server';

export interface RowLock {
  /** Backend pid of the lock holder. */
  pid: number;
  /** The pid of the one backend waiting for this lock (polls until there is one). */
  waiter(): Promise<number>;
  release(): Promise<void>;
}

/** Holds `FOR UPDATE` on the account's settings row in an open transaction of its own connection. */
export async function lockAccountRow(accountId: string): Promise<RowLock> {
  const client = new Client({ connectionString: localDatabaseUrl, application_name: 'retryable-errors-test-locker' });
  await client.connect();
  await client.query('BEGIN');
  const locked = await client.query('SELECT account_id FROM account_settings WHERE account_id = $1 FOR UPDATE', [accountId]);
  if (locked.rowCount !== 1) throw new Error(`no row to lock for ${accountId}`);
  const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
  return {
    pid,
    async waiter() {
      let waiting: Array<Record<string, unknown>> = [];
      const lockWait = /from "account_settings" .*for update/i;
      await waitFor(
        async () => {
          waiting = await db('SELECT pid, query FROM pg_stat_activity WHERE $1 = ANY (pg_blocking_pids(pid))', [pid]);
          // pg_stat_activity is a snapshot taken when the query starts, pg_blocking_pids is read
          // per row later: a backend that has just moved on from its previous statement can show
          // as blocked with that statement's text (seen in CI: the save's set_config). Such a
          // row is polled again; the text must name the lock wait in a fresh snapshot.
          return waiting.length > 0 && waiting.every((w) => lockWait.test(String(w.query)));
        },
        5_000,
        `a backend blocked by the row lock of ${accountId} in SELECT … FOR UPDATE`,
      );
      expect(waiting).toHaveLength(1);
      return Number(waiting[0]!.pid);
    },
    async release() {
      await client.query('ROLLBACK').catch(() => undefined);
      await client.end();
    },
  };
}

export interface TableLock {
  /** Backend pid of the lock holder. */
  pid: number;
  /** How many of the settings service's backends wait for this lock now (others, e.g. a snapshot's SELECT, are not counted). */
  blocked(): Promise<number>;
  /** Ends the locking transaction (idempotent) and closes its connection. */
  release(): Promise<void>;
}

/**
 * Holds `ACCESS EXCLUSIVE` on `table` in an open transaction of its own connection: every
 * statement on the table, reads included, waits until `release()`.
 */
export async function lockTable(table: string, applicationName = 'settings-test-table-locker'): Promise<TableLock> {
  const client = new Client({ connectionString: localDatabaseUrl, application_name: applicationName });
  await client.connect();
  await client.query('BEGIN');
  await client.query(`LOCK TABLE ${client.escapeIdentifier(table)} IN ACCESS EXCLUSIVE MODE`);
  const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
  let released: Promise<void> | undefined;
  return {
    pid,
    blocked: async () => Number((await db("SELECT count(*) AS n FROM pg_stat_activity WHERE $1 = ANY (pg_blocking_pids(pid)) AND application_name LIKE 'settings-service%'", [pid]))[0]!.n),
    release() {
      released ??= client.query('ROLLBACK').then(
        () => client.end(),
        () => client.end(),
      );
      return released;
    },
  };
}
