/**
 * What a new pooled PostgreSQL connection must be before knex lends it (its pool's `afterCreate`).
 *
 * Why: after a failover, a name that still resolves to the old primary (DNS TTL, a proxy that has
 * not switched) hands new connections to a server that is now a standby. A pooled connection is
 * never re-checked, so a read pool would keep reading a lagging copy (older than the tokens
 * callers hold) and a write pool would keep failing every save with read_only_sql_transaction,
 * long after the name moved: busy connections are never idle long enough to be closed. Refused
 * at connect, such a connection is never pooled: the call fails UNAVAILABLE (retry) and the next
 * one connects again, to the new primary once the name points there.
 */
export interface SessionRequirements {
  /** Refuse a server in recovery (a standby). */
  readonly primaryOnly: boolean;
  /** Refuse a session whose transactions are read-only (`default_transaction_read_only` on the role, database or server). */
  readonly writable: boolean;
  /**
   * The session's `lock_timeout` in ms: the longest wait of any statement for a lock, table locks
   * included (a `LOCK TABLE`, `VACUUM FULL` or `ALTER` from psql). Transactions set their own
   * with SET LOCAL; this bounds the one-statement saves, which skip locked rows but would
   * otherwise wait for a table lock until their deadline, holding a write connection.
   */
  readonly lockTimeoutMs?: number;
}

/** read_only_sql_transaction: what PostgreSQL answers a write on such a server or session. */
export const READ_ONLY_SQLSTATE = '25006';

/** A connection refused by SessionRequirements; `code` maps it like PostgreSQL's own refusal (DATABASE_UNAVAILABLE). */
export class UnusableSessionError extends Error {
  readonly code = READ_ONLY_SQLSTATE;
  constructor(why: string) {
    super(`refused a new database connection: ${why}; DATABASE_URL must reach the primary (after a failover, until its name points at the new one)`);
    this.name = 'UnusableSessionError';
  }
}

/** node-postgres' client, as knex hands the raw connection to `afterCreate`. */
interface RawConnection {
  query(text: string, callback: (err: Error | null, result: unknown) => void): void;
  end(callback: (err?: Error) => void): void;
}

interface CheckRow {
  standby: boolean;
  read_only: boolean;
}

/** knex's `pool.afterCreate`: one round trip per new connection. */
export function checkNewSession(req: SessionRequirements): (connection: unknown, done: (err: Error | null, connection: unknown) => void) => void {
  const check = `SELECT pg_is_in_recovery() AS standby, current_setting('transaction_read_only') = 'on' AS read_only`;
  const text = req.lockTimeoutMs === undefined ? check : `SET lock_timeout = '${Math.max(1, Math.floor(req.lockTimeoutMs))}ms'; ${check}`;
  return (connection, done) => {
    const raw = connection as RawConnection;
    // knex does not close a connection its afterCreate refused: close it here, or every refused
    // attempt (tarn retries while callers wait) would leave a session open on that server.
    const refuse = (err: Error): void => raw.end(() => done(err, connection));
    raw.query(text, (err, result) => {
      if (err) return refuse(err);
      // A multi-statement query answers one result per statement: the check is the last.
      const last = (Array.isArray(result) ? result[result.length - 1] : result) as { rows: CheckRow[] };
      const row = last.rows[0];
      if (req.primaryOnly && row?.standby) return refuse(new UnusableSessionError('the server is a standby (in recovery)'));
      if (req.writable && row?.read_only) return refuse(new UnusableSessionError('its transactions are read-only (default_transaction_read_only)'));
      done(null, connection);
    });
  };
}
