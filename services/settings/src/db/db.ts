import knexFactory, { type Knex } from 'knex';
import type { Logger } from '@settings/shared';
import { SettingsError } from '../errors';
import type { SettingsMetrics } from '../metrics';
import { lostInFlight } from './connection-loss';
import { LockBudget } from './lock-budget';
import type { DbPoolName } from './pool-metrics';
import { rowLockWaits, type RowLockWaits } from './row-lock';
import { checkNewSession, READ_ONLY_SQLSTATE, type SessionRequirements } from './session-requirements';
import { closeIfUnanswered } from './unanswered-connection';
import { WriteAdmission, type AdmittedWrite } from './write-admission';
import { endedByStatementTimeout, timedOutBySelf } from './statement-timeout';

/** What is used here of knex's client (typed `any` by knex): its pool's connections, lent and handed back. */
interface PoolingClient {
  /** Waits at most the pool's acquire timeout; then rejects with knex's KnexTimeoutError (status-mapping.ts). */
  acquireConnection(): Promise<unknown>;
  releaseConnection(connection: unknown): Promise<void>;
}

export function createKnex(databaseUrl: string, poolMax: number, acquireTimeoutMs: number, applicationName = 'settings-service', log?: Logger, session?: SessionRequirements): Knex {
  return knexFactory({
    client: 'pg',
    ...(log ? { log: knexLog(log) } : {}),
    // application_name tells the pools apart in pg_stat_activity. connectionTimeoutMillis: a
    // server that accepts the TCP connection and never answers (frozen, behind a partition) fails
    // the attempt instead of holding it forever; that includes the connection knex opens to
    // cancel a read past its timeout (unanswered-connection.ts).
    connection: { connectionString: databaseUrl, application_name: applicationName, connectionTimeoutMillis: acquireTimeoutMs },
    pool: { min: 0, max: poolMax, ...(session ? { afterCreate: checkNewSession(session) } : {}) },
    // A request waiting longer than this for a connection fails with UNAVAILABLE instead of queueing on.
    acquireConnectionTimeout: acquireTimeoutMs,
  });
}

/**
 * knex's own messages through our logger. By default knex writes them to the console:
 * synchronously, coloured, with a stack, and one "Acquire connection error" per call that could
 * not get a pool connection — thousands a second when a pool is exhausted, each reported again
 * by the call's own (sampled) "database unavailable" line. That one goes to debug.
 */
function knexLog(log: Logger): NonNullable<Knex.Config['log']> {
  return {
    warn: (message: string) => (message.startsWith('Acquire connection error') ? log.debug({ knex: message }, 'knex: no pool connection') : log.warn({ knex: message }, 'knex warning')),
    error: (message: string) => log.error({ knex: message }, 'knex error'),
    deprecate: (method: string, alternative: string) => log.warn({ knex: `${method} is deprecated, use ${alternative}` }, 'knex deprecation'),
    debug: (message: string) => log.debug({ knex: message }, 'knex debug'),
  };
}

/**
 * How far a save got on its connection. `commitSent`: what makes it durable has been sent — its
 * one autocommit statement, or its transaction's COMMIT. A connection lost before that rolled
 * it back (DATABASE_UNAVAILABLE, RetryInfo: safe to send again); lost after it, PostgreSQL may
 * have committed it without the answer reaching us (WRITE_OUTCOME_UNKNOWN, no RetryInfo).
 */
interface SaveProgress {
  commitSent: boolean;
}

/** A statement ended by this server's cap (DB_STATEMENT_TIMEOUT_MS) while the call still had time. */
const statementCapExceeded = (capMs: number, cause: unknown): SettingsError =>
  new SettingsError('DATABASE_UNAVAILABLE', `the database took longer than this server's limit for one statement (${capMs} ms); nothing was saved; retry with backoff`, [], { cause });

/** The answer to a save whose answer never came back after `SaveProgress.commitSent`. */
const writeOutcomeUnknown = (cause: unknown): SettingsError =>
  new SettingsError(
    'WRITE_OUTCOME_UNKNOWN',
    'the save was sent but its answer never came back (connection lost, or it ran out of time): it may have been applied; read the resource (its etag) before retrying',
    [],
    { cause },
  );

/** The two pools: a storm on one (saves stuck behind row locks, a read flood) cannot take the other's connections. */
export interface DbPools {
  readonly read: Knex;
  readonly write: Knex;
}

export interface DbLimits {
  /** Longest statement (and wait for a pool connection); calls with a deadline use less. */
  readonly statementCapMs: number;
  /** Longest wait of a write for a row lock another transaction holds (`lock_timeout`). */
  readonly lockTimeoutMs: number;
  /** Saves that may wait for such a lock at once (the rest of the write pool stays free). */
  readonly lockWaitMax: number;
  /** Connections of the write pool (DB_WRITE_POOL_MAX). */
  readonly writePoolMax: number;
  /** Writes that may wait for one of them beyond that (DB_WRITE_QUEUE_MAX). */
  readonly writeQueueMax: number;
  /**
   * How long past a call's deadline (or past `statementCapMs` after it got its connection, if
   * sooner) PostgreSQL may take to answer before the connection is closed (DB_ANSWER_GRACE_MS).
   */
  readonly answerGraceMs: number;
}

/**
 * Database access with the call's deadline carried down to PostgreSQL: reads are cancelled
 * server-side (pg_cancel_backend) when the remaining time runs out, writes run with
 * `SET LOCAL statement_timeout` and `lock_timeout`. No work starts once the deadline has passed.
 * Reads and writes use separate pools.
 */
export class Db {
  /** Saves of this process waiting for someone else's row lock (at most `lockWaitMax`). */
  readonly lockWaits: RowLockWaits;
  /** Writes holding or waiting for a write connection. */
  private readonly writeAdmission: WriteAdmission;
  /** close() was called: a wait for a connection that fails now was ended by the pools closing. */
  private closing = false;

  constructor(
    readonly pools: DbPools,
    private readonly metrics: SettingsMetrics,
    private readonly limits: DbLimits,
    /** The clock deadlines and lock budgets are measured with (epoch ms). */
    readonly now: () => number = Date.now,
  ) {
    this.lockWaits = rowLockWaits(limits.lockWaitMax);
    this.writeAdmission = new WriteAdmission(limits.writePoolMax, limits.writePoolMax + limits.writeQueueMax, now);
  }

  /**
   * Closes both pools, once the connections in use are back (the calls holding them end at
   * their deadline plus the grace at the latest); calls still waiting for one are answered
   * SHUTTING_DOWN.
   */
  async close(): Promise<void> {
    this.closing = true;
    await Promise.all([this.pools.read.destroy(), this.pools.write.destroy()]);
  }

  /** A place among the writes that hold or wait for a write connection (write-admission.ts). */
  private admitWrite(deadline: number): AdmittedWrite {
    const admitted = this.writeAdmission.admit(deadline);
    if (typeof admitted !== 'string') return admitted;
    this.metrics.writesShed.inc({ reason: admitted });
    // A fixed 200 ms would bring the saves refused in a burst back while the queue ahead is still
    // as long: the delay is how long the saves ahead need at the recent pace.
    const retryDelayMs = this.writeAdmission.drainMs();
    throw new SettingsError(
      'LOAD_SHED',
      admitted === 'queue_full'
        ? `${this.writeAdmission.maxInFlight} saves already hold or wait for a database connection on this replica; retry with backoff`
        : 'the saves ahead of this one would keep it waiting for a database connection past its deadline; retry with backoff',
      [],
      { retryDelayMs },
    );
  }

  /** Milliseconds a statement may run: the remaining deadline, capped. Counts the query. */
  budget(kind: string, deadline: number): number {
    const remaining = Math.floor(deadline - this.now());
    if (remaining <= 0) throw new SettingsError('DEADLINE_EXCEEDED', 'deadline exceeded before the database query');
    this.metrics.dbQueries.inc({ kind });
    return Math.min(remaining, this.limits.statementCapMs);
  }

  /** A read on the read pool; `keys`: how many resource keys it reads (settings_db_keys_read_total). */
  async read<T>(kind: string, deadline: number, query: (knex: Knex) => Knex.QueryBuilder | Knex.Raw, keys?: number): Promise<T> {
    this.budget(kind, deadline);
    if (keys !== undefined) this.metrics.dbKeysRead.inc({ kind }, keys);
    return this.onPoolConnection<T>('read', deadline, query);
  }

  /**
   * Closes `connection` if PostgreSQL has not answered by the call's deadline plus the grace
   * (unanswered-connection.ts): past it the caller has gone, and a server that answers nothing,
   * not even its own statement_timeout, is unreachable, not slow. A call without a deadline is
   * given `statementCapMs` from now.
   */
  private guard(pool: DbPoolName, connection: unknown, remainingMs: number) {
    const afterMs = Math.min(remainingMs, this.limits.statementCapMs) + this.limits.answerGraceMs;
    return closeIfUnanswered(connection, afterMs, () => this.metrics.dbConnectionsCut.inc({ pool }));
  }

  /**
   * Sends `statement` on a connection of `knex`'s pool only if the deadline has not passed while
   * waiting for one, with what is left of it as the statement's timeout (cancelled server-side).
   * knex's own `.timeout` starts once it holds a connection: a statement that queued for one past
   * its deadline was sent anyway, with the time it had before it queued (seen in
   * lifecycle.test.ts, "a read that waited for a database connection past its deadline"). A
   * waiter whose deadline passed keeps its place in the pool's queue until a connection comes
   * free (or DB_STATEMENT_TIMEOUT_MS), then hands it straight back.
   */
  private onPoolConnection<T>(pool: DbPoolName, deadline: number, statement: (knex: Knex) => Knex.QueryBuilder | Knex.Raw, save?: SaveProgress): Promise<T> {
    const knex = this.pools[pool];
    // knex's timeout cancels on a new connection and waits for that cancel: against a server
    // that answers nothing the guard's cut is what ends the wait.
    const send = (connection: unknown, remaining: number): PromiseLike<T> => {
      // A save's one statement is its commit (autocommit).
      if (save) save.commitSent = true;
      return statement(knex).connection(connection).timeout(Math.min(remaining, this.limits.statementCapMs), { cancel: true }) as PromiseLike<T>;
    };
    return this.onConnection(pool, deadline, send, undefined, save);
  }

  /**
   * Runs `send` on a connection of `pool`, handed back afterwards, unless the deadline passed
   * while waiting for it (or `refuse` returns an error to throw): then nothing at all is sent.
   * The connection is closed if PostgreSQL has not answered by the deadline plus the grace
   * (guard); the call then fails at once and hands the connection back (disposed) without
   * waiting for what knex still does on it. A save (`save`) whose connection is lost or cut
   * after its commit was sent fails WRITE_OUTCOME_UNKNOWN.
   */
  private async onConnection<T>(pool: DbPoolName, deadline: number, send: (connection: unknown, remainingMs: number) => PromiseLike<T>, refuse?: () => unknown, save?: SaveProgress): Promise<T> {
    const client = this.pools[pool].client as PoolingClient;
    let connection: unknown;
    try {
      connection = await client.acquireConnection();
    } catch (err) {
      // tarn aborts the waits still queued when its pool is destroyed ("aborted", a plain Error):
      // the replica is leaving, which is not a bug of this call.
      if (this.closing) throw new SettingsError('SHUTTING_DOWN', 'server is shutting down; retry on another replica', [], { cause: err });
      throw err;
    }
    try {
      // What refuse() returns is thrown as it is (a LockBudget's ROW_LOCKED error).
      const refused = refuse?.();
      if (refused !== undefined) throw refused;
      const remaining = Math.floor(deadline - this.now());
      if (remaining <= 0) throw new SettingsError('DEADLINE_EXCEEDED', 'deadline exceeded while waiting for a database connection');
      const guard = this.guard(pool, connection, remaining);
      let sent: Promise<T> | undefined;
      try {
        // Inside the try: a statement that throws while it is built must disarm the guard too,
        // or its timer would later cut the connection lent to another call by then.
        sent = Promise.resolve(send(connection, remaining));
        return await Promise.race([sent, guard.cut]);
      } catch (err) {
        // A session that turned out read-only (a server demoted without a restart of ours, a
        // setting applied by reload) stays so: dispose of it (pool validation drops it) rather
        // than lend it to every retry.
        if ((err as { code?: unknown }).code === READ_ONLY_SQLSTATE) (connection as { __knex__disposed?: unknown }).__knex__disposed = err;
        if (save?.commitSent && (lostInFlight(err) || timedOutBySelf(err))) throw writeOutcomeUnknown(err);
        // Our own timeout, with time left before the call's deadline: DB_STATEMENT_TIMEOUT_MS
        // ended it, not the deadline (a timeout set to what was left of it fires after the
        // deadline, never before), and nothing was committed. A server too slow now, which a
        // retry may find faster: not DEADLINE_EXCEEDED, which callers do not retry.
        if ((timedOutBySelf(err) || endedByStatementTimeout(err)) && this.now() < deadline) throw statementCapExceeded(this.limits.statementCapMs, err);
        throw err;
      } finally {
        guard.disarm();
        sent?.catch(() => undefined);
      }
    } finally {
      await client.releaseConnection(connection);
    }
  }

  /**
   * One autocommit statement on the write pool: one round trip, where a transaction costs at
   * least four (BEGIN, the timeouts, a statement, COMMIT), each of which holds the connection
   * while this process is busy. Only for statements that never wait for a row lock (they lock
   * with SKIP LOCKED), so no lock_timeout is needed; cancelled server-side at the deadline.
   */
  async writeStatement<T>(kind: string, deadline: number, statement: (knex: Knex) => Knex.QueryBuilder): Promise<T> {
    // Admitted first: a refused save sends no query and is not counted as one.
    const admitted = this.admitWrite(deadline);
    try {
      this.budget(kind, deadline);
      return await this.onPoolConnection<T>('write', deadline, statement, { commitSent: false });
    } finally {
      admitted.release();
    }
  }

  /**
   * READ COMMITTED transaction; callers lock what they read with FOR UPDATE. A row lock held by
   * someone else (a bulk UPDATE, a long psql session) is waited for at most `lockTimeoutMs`:
   * then PostgreSQL raises 55P03 and the call fails fast (ABORTED ROW_LOCKED, RetryInfo) instead
   * of holding a write connection until its deadline. `work` locks rows with lockRow(trx, …,
   * waits), which caps how many saves wait for someone else's lock at once. `savingSince`: when
   * this save first queued for a write connection (an earlier one-statement attempt), if it did.
   */
  async write<T>(
    kind: string,
    deadline: number,
    work: (trx: Knex.Transaction, waits: RowLockWaits) => Promise<T>,
    savingSince: number = this.now(),
    /** A statement of this save just found the row held by another transaction: the lock budget counts down from now on. */
    rowHeld = false,
  ): Promise<T> {
    // The lock wait is counted from `savingSince` (when the save first asked for a write
    // connection), not from when this transaction got one: a save that queued for a connection
    // behind saves waiting for a bulk change's locks has spent that much of its lock budget
    // already, and still fails within lock_timeout of asking.
    const lockDeadline = savingSince + this.limits.lockTimeoutMs;
    // A lock budget at or beyond the deadline is no budget: running out of time stays DEADLINE_EXCEEDED.
    const lockBudget = new LockBudget(lockDeadline < deadline ? lockDeadline : undefined, (noticedBy) => this.metrics.rowLockTimeouts.inc({ noticed_by: noticedBy }), this.now);
    if (rowHeld) {
      lockBudget.start();
      // Spent already (the statement that found the row held was slow): no transaction at all.
      if (lockBudget.spent) throw lockBudget.spent;
    }
    let admitted: AdmittedWrite | undefined;
    try {
      admitted = this.admitWrite(deadline);
      this.budget(kind, deadline);
    } catch (err) {
      admitted?.release();
      lockBudget.finish();
      throw err;
    }
    const place = admitted;
    // ROW_LOCKED is answered as soon as it is known (lock-budget.ts), without waiting for the
    // ROLLBACK behind it: one more round trip to a PostgreSQL that is, at that moment, busy. The
    // write keeps its place in admission until the transaction has ended and its connection is back.
    const transaction = this.transaction(deadline, lockDeadline, work, this.lockWaitsOf(place, lockBudget), lockBudget).finally(() => {
      place.release();
      lockBudget.finish();
    });
    return Promise.race([transaction, lockBudget.expired]);
  }

  /**
   * The shared lock-wait cap, telling write admission when this write starts waiting for a lock,
   * each wait bounded by the save's lock budget.
   */
  private lockWaitsOf(admitted: AdmittedWrite, budget: LockBudget): RowLockWaits {
    const shared = this.lockWaits;
    return {
      max: shared.max,
      get active() {
        return shared.active;
      },
      enter: () => {
        const wait = shared.enter();
        if (!wait) return undefined;
        // Told when the lock statement is sent, not when the permit is taken: a budget spent
        // already sends nothing, and a save counted as waiting then narrowed the pool the
        // others share and taught admission a lock hold of a few milliseconds.
        const bounded = <T>(lock: () => Promise<T>): Promise<T> =>
          budget.bound(() => {
            admitted.waitsForLock();
            return lock();
          });
        return { leave: wait.leave, bounded };
      },
    };
  }

  /**
   * The transaction runs on a connection taken here, not by knex, so that it can be closed if
   * PostgreSQL stops answering, and nothing at all is sent when the wait for it used up the
   * deadline or the lock budget (the caller was answered ROW_LOCKED meanwhile).
   */
  private transaction<T>(deadline: number, lockDeadline: number, work: (trx: Knex.Transaction, waits: RowLockWaits) => Promise<T>, waits: RowLockWaits, lockBudget: LockBudget): Promise<T> {
    const save: SaveProgress = { commitSent: false };
    return this.onConnection(
      'write',
      deadline,
      (connection) => this.pools.write.transaction((trx) => this.transactionBody(trx, deadline, lockDeadline, work, waits, lockBudget, save), { connection }),
      () => lockBudget.spent,
      save,
    );
  }

  /** BEGIN has been sent; the timeouts, the caller's work, and no commit for a save answered ROW_LOCKED meanwhile. */
  private async transactionBody<T>(
    trx: Knex.Transaction,
    deadline: number,
    lockDeadline: number,
    work: (trx: Knex.Transaction, waits: RowLockWaits) => Promise<T>,
    waits: RowLockWaits,
    lockBudget: LockBudget,
    save: SaveProgress,
  ): Promise<T> {
    // Measured again after BEGIN, which may have taken a while.
    const now = this.now();
    const remaining = Math.min(Math.floor(deadline - now), this.limits.statementCapMs);
    if (remaining <= 0) throw new SettingsError('DEADLINE_EXCEEDED', 'deadline exceeded before the database query');
    // What is left of the lock budget after the wait for a connection; at least 1 ms, because 0
    // would mean "wait forever": a save whose budget is spent still saves a row nobody holds
    // (SKIP LOCKED never waits) and fails at once on one somebody does.
    const lockBudgetMs = Math.max(1, Math.floor(lockDeadline - now));
    // One round trip for both; `true` = local to this transaction (SET LOCAL). A lock timeout
    // at or beyond the remaining time is left off (0), so running out of time stays
    // DEADLINE_EXCEEDED and is never reported as a retryable lock conflict.
    const lockTimeout = lockBudgetMs < remaining ? lockBudgetMs : 0;
    await trx.raw(`SELECT set_config('statement_timeout', ?, true), set_config('lock_timeout', ?, true)`, [String(Math.max(1, remaining)), String(lockTimeout)]);
    const result = await work(trx, waits);
    // A caller answered ROW_LOCKED must find nothing saved: whatever path `work` took, no commit.
    if (lockBudget.spent) throw lockBudget.spent;
    // knex sends COMMIT as soon as this resolves, with nothing in between. (A COMMIT pg refuses
    // to send on a connection it already knows is broken says so: lostInFlight ignores that.)
    save.commitSent = true;
    return result;
  }
}
