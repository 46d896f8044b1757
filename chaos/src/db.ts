import { Pool, type QueryResultRow } from 'pg';
import { localDatabaseUrl } from '@settings/shared';

/**
 * The harness's own PostgreSQL pool: the psql-style writers, seeding, the row side of every
 * comparison. Short timeouts, because PostgreSQL is one of the things this suite kills: a
 * writer must fail fast and try again, not hang until the server is back.
 */
export class HarnessDb {
  private readonly pool: Pool;

  constructor(applicationName: string) {
    this.pool = new Pool({
      connectionString: localDatabaseUrl,
      max: 6,
      application_name: applicationName,
      connectionTimeoutMillis: 2_000,
      query_timeout: 5_000,
      statement_timeout: 5_000,
      idleTimeoutMillis: 5_000,
    });
    // An idle client whose server went away (immediate restart) emits 'error' on the pool;
    // unhandled, that would end the runner. The next query simply opens a new connection.
    this.pool.on('error', () => undefined);
  }

  async query<R extends QueryResultRow = QueryResultRow>(text: string, params: unknown[] = []): Promise<R[]> {
    return (await this.pool.query<R>(text, params)).rows;
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

/** A short label for a failed query: SQLSTATE when the server answered, else the socket error code. */
export function sqlErrorName(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown } | null;
  if (typeof e?.code === 'string' && e.code !== '') return `sql:${e.code}`;
  const text = typeof e?.message === 'string' ? e.message : '';
  if (/timeout/i.test(text)) return 'sql:timeout';
  if (/terminated/i.test(text)) return 'sql:connection-terminated';
  return 'sql:error';
}

export function escapeLike(s: string): string {
  return s.replace(/[\\%_]/g, (c) => `\\${c}`);
}
