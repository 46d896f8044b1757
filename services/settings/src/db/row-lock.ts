import type { Knex } from 'knex';
import { ConcurrencyLimiter } from '../cache/concurrency-limiter';
import { SettingsError } from '../errors';
import type { Row } from '../resources/resource';
import { rowVersion } from '../resources/row-mapping';
import { LOCK_NOT_AVAILABLE } from './lock-budget';

/** One save's permit to wait for a row lock another transaction holds. */
export interface LockWait {
  /**
   * Calls `lock` at once, or not at all when the budget is already spent (then ROW_LOCKED).
   * The outcome of `lock` (sends the statement that waits for the row), or ROW_LOCKED as soon as
   * the save's lock budget is spent, whichever comes first. After ROW_LOCKED the statement's own
   * outcome is ignored: the caller throws, so the transaction is rolled back, never committed.
   */
  bounded<T>(lock: () => Promise<T>): Promise<T>;
  leave(): void;
}

/**
 * How many saves of this process may wait for a row lock another transaction holds at once.
 * Each such wait holds a write connection for up to `lock_timeout`; capping them keeps the rest
 * of the write pool for saves of rows nobody else holds (a bulk UPDATE locking 100,000 rows
 * must not stall saves of the rows it does not touch).
 */
export interface RowLockWaits {
  readonly max: number;
  readonly active: number;
  /** A permit, or undefined when `max` saves already wait. */
  enter(): LockWait | undefined;
}

/** The process-wide cap; its permits leave the wait unbounded (the transaction's `lock_timeout` ends it). */
export function rowLockWaits(max: number): RowLockWaits {
  const limiter = new ConcurrencyLimiter(max);
  return {
    max,
    get active() {
      return limiter.active;
    },
    enter() {
      const leave = limiter.tryAcquire();
      return leave && { bounded: (lock) => lock(), leave };
    },
  };
}

/**
 * The row of `key`, locked FOR UPDATE until the transaction ends, so the etag check below and the
 * write after it see the same version (READ COMMITTED would otherwise let a concurrent writer in
 * between). A row nobody else holds costs one statement (`SKIP LOCKED` returns it). A row another
 * transaction holds is waited for (up to the transaction's `lock_timeout`) only while fewer than
 * `waits.max` saves of this process wait; otherwise the save fails at once with ROW_LOCKED.
 */
export async function lockRow(trx: Knex.Transaction, table: string, key: Readonly<Record<string, string>>, waits: RowLockWaits, heldByOther = false): Promise<Row | undefined> {
  // `heldByOther`: a statement just found the row held (the one-statement save's SKIP LOCKED),
  // so the two probes below would only confirm it; going straight to the wait saves two round
  // trips, each of which a busy process answers late while the transaction stays open.
  if (!heldByOther) {
    const free = (await trx(table).where(key).forUpdate().skipLocked().first()) as Row | undefined;
    if (free) return free;
    // Missing, or held by someone else: a plain read (MVCC, never blocks) tells which.
    const exists = (await trx(table).where(key).first(Object.keys(key)[0]!)) as Row | undefined;
    if (!exists) return undefined;
  }
  // A row that was freed (or deleted) meanwhile is locked (or found missing) at once.
  return waitUnderCap(waits, () => trx(table).where(key).forUpdate().first() as Promise<Row | undefined>);
}

/**
 * Sends `statement`, which waits for a lock another transaction holds, only under one of the
 * `waits.max` permits (ROW_LOCKED at once when none is free), bounded by the save's lock budget.
 */
async function waitUnderCap<T>(waits: RowLockWaits, statement: () => PromiseLike<T>): Promise<T> {
  const wait = waits.enter();
  if (!wait) throw rowLockedError(waits);
  let sent = false;
  const done = wait.bounded(() => {
    sent = true;
    const waiting = Promise.resolve(statement());
    // The permit is held for as long as the statement waits in PostgreSQL, also after an early
    // ROW_LOCKED: the connection is not free before then.
    waiting.then(wait.leave, wait.leave);
    return waiting;
  });
  // A budget spent before the statement (by the wait for a connection, or an earlier wait of
  // the transaction) answers ROW_LOCKED without sending it: nothing waits, the permit goes back.
  if (!sent) wait.leave();
  return done;
}

/** The savepoint a capped statement's first attempt runs in. */
const NO_WAIT_SAVEPOINT = 'settings_no_lock_wait';

/**
 * Runs `statement`, a write that may wait for a row another transaction holds or is inserting
 * (uncommitted) where no `FOR UPDATE SKIP LOCKED` can look first: an INSERT … ON CONFLICT of a
 * key a psql session is inserting, or a grant insert whose trigger upserts the account's list
 * row (migration 0005). Sent as it is, such a wait took no lock-wait permit and ended only by
 * PostgreSQL's lock_timeout, not the service's clock: saves of one row a psql session was
 * inserting held every write connection at once, and saves of other rows queued behind them.
 *
 * So its first attempt runs with a lock_timeout of 1 ms, in a savepoint: in the common case
 * nothing holds the row, and the cost is two round trips (the savepoint with the 1 ms timeout,
 * then the transaction's own lock_timeout back, kept in `settings.lock_timeout` meanwhile). When
 * PostgreSQL says the row is locked (55P03), rolling back to the savepoint undoes the attempt and
 * restores the transaction's lock_timeout, and the statement is sent again the way lockRow waits:
 * under a lock-wait permit, ROW_LOCKED at once when none is free, bounded by what is left of the
 * save's lock budget on the service's clock (lock-budget.ts). The one-statement save never
 * comes here: it only updates, with SKIP LOCKED.
 */
export async function withCappedLockWait<T>(trx: Knex.Transaction, waits: RowLockWaits, statement: () => PromiseLike<T>): Promise<T> {
  // No bindings: one simple-protocol query, both statements in one round trip.
  await trx.raw(`SAVEPOINT ${NO_WAIT_SAVEPOINT}; SELECT set_config('settings.lock_timeout', current_setting('lock_timeout'), true), set_config('lock_timeout', '1', true)`);
  let result: T;
  try {
    result = await statement();
  } catch (err) {
    if ((err as { code?: unknown } | null)?.code !== LOCK_NOT_AVAILABLE) throw err;
    await trx.raw(`ROLLBACK TO SAVEPOINT ${NO_WAIT_SAVEPOINT}`);
    return waitUnderCap(waits, statement);
  }
  await trx.raw(`RELEASE SAVEPOINT ${NO_WAIT_SAVEPOINT}; SELECT set_config('lock_timeout', current_setting('settings.lock_timeout'), true)`);
  return result;
}

/** A save that would wait for someone else's row lock while `waits.max` saves already do. */
export const rowLockedError = (waits: RowLockWaits): SettingsError =>
  new SettingsError('ROW_LOCKED', `the row is locked by another transaction (and ${waits.max} saves already wait for one); retry with backoff`);

/** Whether a save of a row someone else holds would fail at once with ROW_LOCKED. */
export const lockWaitsFull = (waits: RowLockWaits): boolean => waits.active >= waits.max;

export const etagMismatchError = (etag: bigint, name: string): SettingsError =>
  new SettingsError('ETAG_MISMATCH', `etag ${etag} does not match the current etag of ${name}; re-read and retry`);

/** AIP-154: a non-empty etag is the version the caller read; anything else is a lost update. */
export function checkEtag(row: Row, etag: bigint | undefined, name: string): void {
  if (etag !== undefined && rowVersion(row) !== etag) throw etagMismatchError(etag, name);
}
