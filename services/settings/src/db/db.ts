import knexFactory, { type Knex } from 'knex';
import { SettingsError } from '../errors';
import type { SettingsMetrics } from '../metrics';

export function createKnex(databaseUrl: string, poolMax: number, acquireTimeoutMs: number): Knex {
  return knexFactory({
    client: 'pg',
    connection: databaseUrl,
    pool: { min: 0, max: poolMax },
    // A request waiting longer than this for a connection fails with UNAVAILABLE instead of queueing on.
    acquireConnectionTimeout: acquireTimeoutMs,
  });
}

/**
 * Database access with the call's deadline carried down to PostgreSQL: reads are cancelled
 * server-side (pg_cancel_backend) when the remaining time runs out, writes run with
 * `SET LOCAL statement_timeout`. No work starts once the deadline has passed.
 */
export class Db {
  constructor(
    readonly knex: Knex,
    private readonly metrics: SettingsMetrics,
    private readonly statementCapMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Milliseconds a statement may run: the remaining deadline, capped. Counts the query. */
  budget(kind: string, deadline: number): number {
    const remaining = Math.floor(deadline - this.now());
    if (remaining <= 0) throw new SettingsError('DEADLINE_EXCEEDED', 'deadline exceeded before the database query');
    this.metrics.dbQueries.inc({ kind });
    return Math.min(remaining, this.statementCapMs);
  }

  async read<T>(kind: string, deadline: number, query: (knex: Knex) => Knex.QueryBuilder | Knex.Raw): Promise<T> {
    const ms = this.budget(kind, deadline);
    return (await query(this.knex).timeout(ms, { cancel: true })) as T;
  }

  /** READ COMMITTED transaction; callers lock what they read with FOR UPDATE. */
  async write<T>(kind: string, deadline: number, work: (trx: Knex.Transaction) => Promise<T>): Promise<T> {
    this.budget(kind, deadline);
    return this.knex.transaction(async (trx) => {
      // Measured again after a pool connection was acquired, which may have taken a while.
      const remaining = Math.min(Math.floor(deadline - this.now()), this.statementCapMs);
      if (remaining <= 0) throw new SettingsError('DEADLINE_EXCEEDED', 'deadline exceeded before the database query');
      await trx.raw(`SET LOCAL statement_timeout = ${Math.max(1, remaining)}`);
      return work(trx);
    });
  }
}
