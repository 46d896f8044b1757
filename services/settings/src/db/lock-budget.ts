import { SettingsError } from '../errors';

/** SQLSTATE of a lock wait ended by `lock_timeout`. */
export const LOCK_NOT_AVAILABLE = '55P03';

export type LockTimeoutNoticedBy = 'postgres' | 'service_clock';

/**
 * One save's budget for waiting on a row lock someone else holds, on this process's clock.
 *
 * PostgreSQL's `lock_timeout` ends the wait on its own clock, counted from when the statement
 * started waiting, and reports it only when its backend gets a core and the ROLLBACK behind it has
 * run. In the incident replay's burst (the CDC pipeline at a lower CPU weight, PostgreSQL with it)
 * saves with a 250 ms budget were answered ABORTED at p99 374 ms. Here the budget ends at
 * `deadline` whatever PostgreSQL's state: `expired` rejects with ROW_LOCKED at once (the caller
 * is answered), and the transaction — whose lock statement then fails, or is granted too late and
 * ignored — is rolled back behind the answer, never committed.
 *
 * The countdown starts when the save is known to wait: at once for a row a statement just found
 * held, else when the locking statement starts (`bound`). It stops when that statement settles
 * (the lock granted, the row found missing, or an error), and runs again, to the same deadline,
 * when a later statement of the transaction waits for a lock (`writeSingleton` locks a second
 * time after losing an insert race).
 */
export class LockBudget {
  /** Rejects with the ROW_LOCKED answer when the budget runs out first; never resolves. */
  readonly expired: Promise<never>;
  private rejectExpired!: (err: unknown) => void;
  private timer: NodeJS.Timeout | undefined;
  private spentWith: unknown;
  private finished = false;

  constructor(
    /** Epoch ms; undefined: no budget (the call's deadline comes first and governs). */
    private readonly deadline: number | undefined,
    private readonly onTimeout: (noticedBy: LockTimeoutNoticedBy) => void,
    private readonly now: () => number,
  ) {
    this.expired = new Promise<never>((_, reject) => {
      this.rejectExpired = reject;
    });
    // Observed by whoever races it; when nobody does, its rejection is not an error.
    this.expired.catch(() => undefined);
  }

  /** The ROW_LOCKED error, once the budget ran out. */
  get spent(): unknown {
    return this.spentWith;
  }

  /** Starts the countdown (if not running); a budget already spent expires now, synchronously. */
  start(): void {
    if (this.deadline === undefined || this.spentWith !== undefined || this.finished || this.timer) return;
    const left = this.deadline - this.now();
    if (left <= 0) this.spend(rowLockTimeoutError(), 'service_clock');
    else this.timer = setTimeout(() => this.spend(rowLockTimeoutError(), 'service_clock'), left);
  }

  /**
   * Runs `lock` (a statement that waits for a row lock) bounded by the budget; a budget already
   * spent does not send it. The countdown ends when the statement settles, however it does: the
   * service's clock answers only while a lock is being waited for, never while a later statement
   * of the transaction (an insert, the update) could still commit.
   */
  bound<T>(lock: () => Promise<T>): Promise<T> {
    if (this.deadline === undefined) return lock();
    this.start();
    // Spent (now, or by an earlier statement): `expired` has rejected, so the caller is answered.
    if (this.spentWith !== undefined) return this.expired;
    const settled = lock().then(
      (value) => {
        this.stop();
        return value;
      },
      (err: unknown) => {
        if ((err as { code?: unknown } | null)?.code === LOCK_NOT_AVAILABLE) this.spend(err, 'postgres');
        else this.stop();
        throw err;
      },
    );
    return Promise.race([settled, this.expired]);
  }

  /**
   * The save has its answer another way (refused by write admission, or its transaction ended):
   * the countdown stops for good, so it neither answers nor counts a lock timeout later.
   */
  finish(): void {
    this.finished = true;
    this.stop();
  }

  private stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private spend(err: unknown, noticedBy: LockTimeoutNoticedBy): void {
    if (this.spentWith !== undefined || this.finished) return;
    this.stop();
    this.spentWith = err;
    this.onTimeout(noticedBy);
    this.rejectExpired(err);
  }
}

const rowLockTimeoutError = (): SettingsError => new SettingsError('ROW_LOCKED', 'the row is locked by another transaction (e.g. a bulk update); retry with backoff');
