import { LockBudget, type LockTimeoutNoticedBy } from '../../src/db/lock-budget';
import { SettingsError } from '../../src/errors';

/** A statement waiting for a row lock, settled by the test. */
function lockStatement<T>(): { promise: Promise<T>; grant(v: T): void; fail(err: unknown): void } {
  let grant!: (v: T) => void;
  let fail!: (err: unknown) => void;
  const promise = new Promise<T>((resolve, reject) => {
    grant = resolve;
    fail = reject;
  });
  return { promise, grant, fail };
}

const reasonOf = (err: unknown): string | undefined => (err instanceof SettingsError ? err.code : (err as { code?: string }).code);

describe('LockBudget', () => {
  let noticed: LockTimeoutNoticedBy[];
  const budgetUntil = (deadline: number | undefined): LockBudget => new LockBudget(deadline, (by) => noticed.push(by), Date.now);

  beforeEach(() => {
    noticed = [];
    jest.useFakeTimers({ now: 1_000_000 });
  });
  afterEach(() => jest.useRealTimers());

  it('passes a lock granted within the budget through, and never answers ROW_LOCKED after it', async () => {
    const budget = budgetUntil(Date.now() + 250);
    const lock = lockStatement<string>();
    const bounded = budget.bound(() => lock.promise);
    jest.advanceTimersByTime(100);
    lock.grant('row');
    await expect(bounded).resolves.toBe('row');
    jest.advanceTimersByTime(1000);
    await Promise.resolve();
    expect(budget.spent).toBeUndefined();
    expect(noticed).toEqual([]);
  });

  it('answers ROW_LOCKED on its own clock when PostgreSQL has not reported the lock timeout, and ignores a grant that comes later', async () => {
    const budget = budgetUntil(Date.now() + 250);
    const lock = lockStatement<string>();
    const bounded = budget.bound(() => lock.promise);
    const expired = budget.expired.catch((e: unknown) => e);
    jest.advanceTimersByTime(250);
    await expect(bounded).rejects.toMatchObject({ code: 'ROW_LOCKED' });
    expect(reasonOf(await expired)).toBe('ROW_LOCKED');
    expect(noticed).toEqual(['service_clock']);
    // Granted just too late: the caller already has its answer; the transaction must not use it.
    lock.grant('row');
    await Promise.resolve();
    expect(reasonOf(budget.spent)).toBe('ROW_LOCKED');
  });

  it("answers with PostgreSQL's own lock timeout (55P03) as soon as it arrives", async () => {
    const budget = budgetUntil(Date.now() + 250);
    const lock = lockStatement<string>();
    const bounded = budget.bound(() => lock.promise);
    const expired = budget.expired.catch((e: unknown) => e);
    jest.advanceTimersByTime(249);
    lock.fail(Object.assign(new Error('canceling statement due to lock timeout'), { code: '55P03' }));
    await expect(bounded).rejects.toMatchObject({ code: '55P03' });
    expect(reasonOf(await expired)).toBe('55P03');
    jest.advanceTimersByTime(10);
    expect(noticed).toEqual(['postgres']);
  });

  it('passes other statement errors through and stops counting: no ROW_LOCKED during the ROLLBACK that follows', async () => {
    const budget = budgetUntil(Date.now() + 250);
    const lock = lockStatement<string>();
    const bounded = budget.bound(() => lock.promise);
    lock.fail(Object.assign(new Error('connection lost'), { code: '57P01' }));
    await expect(bounded).rejects.toMatchObject({ code: '57P01' });
    jest.advanceTimersByTime(1000);
    expect(budget.spent).toBeUndefined();
    expect(noticed).toEqual([]);
  });

  it('does not count while a later statement of the transaction runs, once the lock was granted or the row found missing', () => {
    const budget = budgetUntil(Date.now() + 250);
    const lock = lockStatement<undefined>();
    void budget.bound(() => lock.promise);
    lock.grant(undefined);
    return Promise.resolve().then(() => {
      // e.g. the INSERT of allow_missing: it may commit, so the caller must not hear ROW_LOCKED.
      jest.advanceTimersByTime(1000);
      expect(budget.spent).toBeUndefined();
    });
  });

  it('bounds a second lock wait of the same transaction by what is left of the budget (it used to never settle)', async () => {
    const budget = budgetUntil(Date.now() + 250);
    // The first wait ends with the row found missing (deleted by its holder), 100 ms in.
    const first = lockStatement<string | undefined>();
    const firstBounded = budget.bound(() => first.promise);
    jest.advanceTimersByTime(100);
    first.grant(undefined);
    await expect(firstBounded).resolves.toBeUndefined();
    // An insert that lost a race to a concurrent creator runs for 50 ms, uncounted.
    jest.advanceTimersByTime(50);
    expect(budget.spent).toBeUndefined();
    // The second wait, on the creator's row, is sent and answered when the 250 ms are up.
    const second = lockStatement<string>();
    let sent = false;
    const secondBounded = budget.bound(() => {
      sent = true;
      return second.promise;
    });
    const outcome = secondBounded.then(() => 'granted', (err: unknown) => reasonOf(err));
    expect(sent).toBe(true);
    jest.advanceTimersByTime(99);
    await Promise.resolve();
    expect(budget.spent).toBeUndefined();
    jest.advanceTimersByTime(1);
    expect(await outcome).toBe('ROW_LOCKED');
    expect(noticed).toEqual(['service_clock']);
  });

  it('once finished (the save answered another way), neither answers nor counts a lock timeout', async () => {
    const budget = budgetUntil(Date.now() + 250);
    budget.start();
    // E.g. refused by write admission right after the countdown started for a held row.
    budget.finish();
    let answered = false;
    budget.expired.catch(() => (answered = true));
    jest.advanceTimersByTime(1000);
    await Promise.resolve();
    expect({ answered, spent: budget.spent, noticed }).toEqual({ answered: false, spent: undefined, noticed: [] });
  });

  it('does not send the lock statement once the budget is spent', async () => {
    const budget = budgetUntil(Date.now() + 50);
    budget.start();
    jest.advanceTimersByTime(50);
    const send = jest.fn(() => Promise.resolve('row'));
    await expect(budget.bound(send)).rejects.toMatchObject({ code: 'ROW_LOCKED' });
    expect(send).not.toHaveBeenCalled();
  });

  it('counts down from start() for a row known to be held, and a budget already spent expires at once', () => {
    const held = budgetUntil(Date.now() + 50);
    held.start();
    jest.advanceTimersByTime(50);
    expect(reasonOf(held.spent)).toBe('ROW_LOCKED');
    const spent = budgetUntil(Date.now() - 1);
    spent.start();
    expect(reasonOf(spent.spent)).toBe('ROW_LOCKED');
    expect(noticed).toEqual(['service_clock', 'service_clock']);
  });

  it('without a budget (the deadline comes first) leaves the wait to the deadline', async () => {
    const budget = budgetUntil(undefined);
    const lock = lockStatement<string>();
    expect(budget.bound(() => lock.promise)).toBe(lock.promise);
    budget.start();
    jest.advanceTimersByTime(1_000_000);
    expect(budget.spent).toBeUndefined();
  });
});
