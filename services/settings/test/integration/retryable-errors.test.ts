import { status as GrpcStatus } from '@grpc/grpc-js';
import { AccountSettings, OnPatientSettings } from '@settings/api';
import { lockAccountRow, lockTable } from '../support/row-lock';
import { accountsDeletedAfterAll, db, decodeError, serverForTests } from '../support/test-server';

/**
 * Failures of PostgreSQL that a retry can fix reach the caller as UNAVAILABLE with a
 * google.rpc.RetryInfo, never INTERNAL. The shared PostgreSQL is never stopped: a write is held
 * on a row lock of this test's own account, and then only the backend that lock blocks (found
 * with pg_blocking_pids) is terminated or cancelled.
 */
const newAccount = accountsDeletedAfterAll();

interface Failure {
  code: string;
  reason?: string;
  message: string;
  retryDelayMs?: number;
}

/** The status, ErrorInfo reason and RetryInfo delay a caller decodes from a failed call. */
function failureOf(err: unknown): Failure {
  if (!err) throw new Error('expected the call to fail, but it succeeded');
  const d = decodeError(err);
  return { code: GrpcStatus[d.code] ?? String(d.code), message: d.message, ...(d.reason !== undefined ? { reason: d.reason } : {}), ...(d.retryDelayMs !== undefined ? { retryDelayMs: d.retryDelayMs } : {}) };
}

describe('a write interrupted inside PostgreSQL', () => {
  const t = serverForTests();

  const settings = (accountId: string, displayName: string) => ({
    accountSettings: AccountSettings.fromPartial({ name: `accounts/${accountId}/settings`, displayName }),
    updateMask: ['display_name'],
    allowMissing: true,
  });

  /** Starts a write of `accountId`, waits until it blocks on the row lock, then runs `interrupt(pid)`. */
  async function interruptedWrite(accountId: string, interrupt: (servicePid: number) => Promise<void>): Promise<Failure> {
    await t.call('updateAccountSettings', settings(accountId, 'before'));
    const lock = await lockAccountRow(accountId);
    try {
      const write = t.call('updateAccountSettings', settings(accountId, 'interrupted')).then(
        () => undefined,
        (err: unknown) => err,
      );
      await interrupt(await lock.waiter());
      return failureOf(await write);
    } finally {
      await lock.release();
    }
  }

  it('returns UNAVAILABLE (DATABASE_UNAVAILABLE) with a 200 ms RetryInfo, not INTERNAL, when PostgreSQL terminates the connection mid-write; the retry succeeds', async () => {
    const a = newAccount();
    const failure = await interruptedWrite(a, async (pid) => {
      expect(await db('SELECT pg_terminate_backend($1) AS terminated', [pid])).toEqual([{ terminated: true }]);
    });
    process.stderr.write(`[observed] write on a terminated backend: ${JSON.stringify(failure)}\n`);
    expect(failure).toEqual({ code: 'UNAVAILABLE', reason: 'DATABASE_UNAVAILABLE', message: 'lost the database connection; retry with backoff', retryDelayMs: 200 });

    // Retryable means it: the pool dropped the dead connection and the same write now succeeds.
    expect((await t.call('updateAccountSettings', settings(a, 'retried'))).displayName).toBe('retried');
    expect(await db('SELECT display_name FROM account_settings WHERE account_id = $1', [a])).toEqual([{ display_name: 'retried' }]);
  });

  it('returns UNAVAILABLE (DATABASE_UNAVAILABLE) with RetryInfo when another session cancels the statement (pg_cancel_backend), not DEADLINE_EXCEEDED', async () => {
    const a = newAccount();
    const failure = await interruptedWrite(a, async (pid) => {
      expect(await db('SELECT pg_cancel_backend($1) AS cancelled', [pid])).toEqual([{ cancelled: true }]);
    });
    process.stderr.write(`[observed] write cancelled by pg_cancel_backend: ${JSON.stringify(failure)}\n`);
    expect(failure).toEqual({ code: 'UNAVAILABLE', reason: 'DATABASE_UNAVAILABLE', message: 'the database cancelled the statement; retry with backoff', retryDelayMs: 200 });
    expect(await db('SELECT display_name FROM account_settings WHERE account_id = $1', [a])).toEqual([{ display_name: 'before' }]);
  });
});

describe('a write that runs out of its statement_timeout', () => {
  // The call's deadline (10 s) is far away; the cap makes our own statement_timeout fire first,
  // so the server's answer (not the client's own deadline) is what the caller sees. The lock
  // timeout is longer than the cap, so it is left off and cannot fire first. (Out of its
  // deadline instead, a call ends DEADLINE_EXCEEDED: status-mapping.test.ts.)
  const t = serverForTests({ DB_STATEMENT_TIMEOUT_MS: '300', DB_LOCK_TIMEOUT_MS: '60000' });

  it('is UNAVAILABLE (DATABASE_UNAVAILABLE) with RetryInfo: the server\'s cap ended it with time left before the call\'s deadline, and nothing was saved', async () => {
    const a = newAccount();
    await t.call('updateAccountSettings', { accountSettings: AccountSettings.fromPartial({ name: `accounts/${a}/settings`, displayName: 'before' }), allowMissing: true });
    const lock = await lockAccountRow(a);
    try {
      const err = await t
        .call('updateAccountSettings', { accountSettings: AccountSettings.fromPartial({ name: `accounts/${a}/settings`, displayName: 'too slow' }), updateMask: ['display_name'], allowMissing: false }, { deadlineMs: 10_000 })
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(failureOf(err)).toEqual({ code: 'UNAVAILABLE', reason: 'DATABASE_UNAVAILABLE', message: expect.stringMatching(/limit for one statement \(300 ms\)/), retryDelayMs: 200 });
    } finally {
      await lock.release();
    }
    expect((await t.call('getAccountSettings', { name: `accounts/${a}/settings`, consistency: { requirement: { $case: 'fullyConsistent', value: true } } })).displayName).toBe('before');
  });
});

describe('a read that cannot get a connection of the read pool in time', () => {
  // One read connection; waiting for it, like a statement, is capped at 1 s.
  const t = serverForTests({ DB_READ_POOL_MAX: '1', DB_STATEMENT_TIMEOUT_MS: '1000', DB_DELIBERATE_READS_PER_CALLER: '6', DB_DELIBERATE_READS_PER_CALLER_PER_SECOND: '0' });
  const fully = { requirement: { $case: 'fullyConsistent' as const, value: true } };
  const outcome = (p: Promise<unknown>): Promise<Failure | undefined> => p.then(() => undefined, (err: unknown) => failureOf(err));
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  it('is UNAVAILABLE (DATABASE_UNAVAILABLE) with a RetryInfo, not INTERNAL', async () => {
    const [a1, a2] = [newAccount(), newAccount()];
    for (const a of [a1, a2]) await t.call('updateAccountSettings', { accountSettings: AccountSettings.fromPartial({ name: `accounts/${a}/settings`, displayName: 'x' }), allowMissing: true });
    await t.call('updateOnPatientSettings', { onpatientSettings: OnPatientSettings.fromPartial({ name: `accounts/${a1}/onpatientSettings`, portalEnabled: true }), allowMissing: true });
    // Every SELECT on account_settings waits for this lock: the reads of it hold the only read
    // connection, one after the other, each until its 1 s statement budget ends.
    const lock = await lockTable('account_settings', 'retryable-errors-test-locker');
    let queued: Failure | undefined;
    let holders: Array<Failure | undefined> = [];
    try {
      const first = outcome(t.call('getAccountSettings', { name: `accounts/${a1}/settings`, consistency: fully }));
      // The first read frees the connection only after knex has cancelled it at 1 s, which opens
      // a connection of its own; the second read's 1 s wait must outlast that (200 ms did not
      // always), and the queued read below still times out while the second holds it.
      await sleep(500);
      const second = outcome(t.call('getAccountSettings', { name: `accounts/${a2}/settings`, consistency: fully }));
      await sleep(200);
      // Queued behind both: the connection is still held when its 1 s wait ends.
      queued = await outcome(t.call('getOnPatientSettings', { name: `accounts/${a1}/onpatientSettings`, consistency: fully }));
      holders = await Promise.all([first, second]);
    } finally {
      await lock.release();
    }
    expect(queued).toEqual({ code: 'UNAVAILABLE', reason: 'DATABASE_UNAVAILABLE', message: expect.stringMatching(/pool exhausted/), retryDelayMs: 200 });
    // The reads that held the connection ran out of the server's 1 s cap with time left before
    // their deadline: retryable, never DEADLINE_EXCEEDED (callers do not retry it) nor INTERNAL.
    for (const h of holders) expect(h).toEqual({ code: 'UNAVAILABLE', reason: 'DATABASE_UNAVAILABLE', message: expect.stringMatching(/limit for one statement \(1000 ms\)/), retryDelayMs: 200 });
  });
});
