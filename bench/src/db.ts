import { Pool, type QueryResultRow } from 'pg';
import { localDatabaseUrl, localStack } from '@settings/shared';

let pool: Pool | undefined;

/** The harness's own connection pool (writers of the lag scenario, bulk updates, checks). */
export function harnessPool(): Pool {
  pool ??= new Pool({ connectionString: localDatabaseUrl, max: 12, application_name: 'settings-bench' });
  return pool;
}

export async function closeHarnessPool(): Promise<void> {
  const p = pool;
  pool = undefined;
  await p?.end();
}

export async function sql<R extends QueryResultRow = QueryResultRow>(text: string, params: unknown[] = []): Promise<R[]> {
  return (await harnessPool().query<R>(text, params)).rows;
}

/** Creates `count` account_settings rows `<prefix>-<i>` (i = 0..count-1) in one statement. */
export async function createAccounts(prefix: string, count: number): Promise<void> {
  await sql(
    `INSERT INTO account_settings (account_id, display_name, time_zone, contact_email)
     SELECT $1 || '-' || i, 'Practice ' || i, 'America/New_York', 'office' || i || '@example.com'
     FROM generate_series(0, $2::int - 1) AS i
     ON CONFLICT (account_id) DO NOTHING`,
    [prefix, count],
  );
}

/** Deletes this run's rows (by prefix; ids are validated so `_`/`%` cannot appear unescaped here). */
export async function deleteAccounts(prefix: string): Promise<number> {
  const rows = await sql<{ n: string }>(`WITH d AS (DELETE FROM account_settings WHERE account_id LIKE $1 RETURNING 1) SELECT count(*)::text AS n FROM d`, [`${escapeLike(prefix)}-%`]);
  return Number(rows[0]?.n ?? 0);
}

export function escapeLike(s: string): string {
  return s.replace(/[\\%_]/g, (c) => `\\${c}`);
}

export const accountId = (prefix: string, i: number): string => `${prefix}-${i}`;

/** Committed transactions of the settings database so far (pg_stat_database). */
export async function xactCommits(): Promise<number> {
  const rows = await sql<{ n: string }>('SELECT xact_commit::text AS n FROM pg_stat_database WHERE datname = $1', [localStack.database]);
  return Number(rows[0]?.n ?? 0);
}

export async function postgresVersion(): Promise<string> {
  const rows = await sql<{ v: string }>("SELECT current_setting('server_version') AS v");
  return rows[0]?.v ?? 'unknown';
}
