import { Pool } from 'pg';
import type { Logger, SettingsTable } from '@settings/shared';

/** Current row versions by cache key; a key missing from the result has no row. */
export interface RowVersionSource {
  versions(table: SettingsTable, ids: ReadonlyArray<Record<string, string>>): Promise<Map<string, bigint>>;
  close(): Promise<void>;
}

const ident = (name: string): string => `"${name.replace(/"/g, '""')}"`;

/**
 * The auditor's own PostgreSQL access: a pool of at most 2 connections, every session read-only
 * (`default_transaction_read_only`) whatever the role may do, short statement timeout. One
 * statement per table and batch: `WHERE (key columns) IN (SELECT * FROM unnest(...))`.
 * `query_timeout` is the client's own bound: a PostgreSQL that stops answering (a partition, a
 * frozen VM, a primary gone in a failover) never reports its statement_timeout, and a read
 * waiting on it would hold the audit loop, and the invalidator's shutdown that waits for it,
 * until the kernel gave up on the socket. The pool drops a connection whose query failed.
 */
export function pgRowVersions(url: string, log: Logger, statementTimeoutMs = 2000): RowVersionSource {
  const pool = new Pool({
    connectionString: url,
    max: 2,
    idleTimeoutMillis: 30_000,
    connectionTimeoutMillis: statementTimeoutMs,
    statement_timeout: statementTimeoutMs,
    query_timeout: statementTimeoutMs + 1000,
    application_name: 'settings-invalidator-audit',
    options: '-c default_transaction_read_only=on',
  });
  pool.on('error', (err) => log.warn({ err: err.message }, 'audit database connection error'));
  return {
    async versions(table, ids) {
      const cols = table.keyColumns as readonly string[];
      const params = cols.map((c) => ids.map((row) => row[c]!));
      const text =
        `SELECT ${cols.map(ident).join(', ')}, version::text AS version FROM ${ident(table.table)}` +
        ` WHERE (${cols.map(ident).join(', ')}) IN (SELECT * FROM unnest(${cols.map((_, i) => `$${i + 1}::text[]`).join(', ')}))`;
      const result = await pool.query<Record<string, string>>(text, params);
      const out = new Map<string, bigint>();
      for (const row of result.rows) out.set(table.key(row as never).key, BigInt(row.version!));
      return out;
    },
    close: () => pool.end(),
  };
}
