import { Client } from 'pg';
import { AccountSettings, OnPatientSettings, Role, StaffPermission } from '@settings/api';
import { localDatabaseUrl } from '@settings/shared';
import { createKnex, Db } from '../../src/db/db';
import { connectionPoolOf } from '../../src/db/pool-metrics';
import { lockRow } from '../../src/db/row-lock';
import { createSettingsMetrics } from '../../src/metrics';
import { lockAccountRow, lockTable } from '../support/row-lock';
import { accountsDeletedAfterAll, db, decodeError, expectError, metricValue, mintToken, serverForTests, uniqueId, waitFor } from '../support/test-server';

/**
 * Bulkheads (issue 11): saves and reads use separate PostgreSQL pools; a save blocked by
 * someone else's row lock gives up after DB_LOCK_TIMEOUT_MS with ABORTED ROW_LOCKED; reads that
 * go to PostgreSQL on purpose (fully_consistent, tokens newer than the cache) are admitted per
 * caller, so one caller's flood is shed with RESOURCE_EXHAUSTED while others are served.
 */
const newAccount = accountsDeletedAfterAll();

const settings = (accountId: string, displayName: string) => ({
  accountSettings: AccountSettings.fromPartial({ name: `accounts/${accountId}/settings`, displayName }),
  updateMask: ['display_name'],
  allowMissing: true,
});
const fullyConsistent = { requirement: { $case: 'fullyConsistent' as const, value: true } };

/** Backends of this PostgreSQL blocked by `pid`'s locks. */
async function blockedBy(pid: number): Promise<number> {
  return (await db('SELECT pid FROM pg_stat_activity WHERE $1 = ANY (pg_blocking_pids(pid))', [pid])).length;
}

describe('a save blocked by another transaction\'s row lock', () => {
  const t = serverForTests({ DB_LOCK_TIMEOUT_MS: '300' });

  it('fails fast with ABORTED (ROW_LOCKED) and a RetryInfo instead of waiting for its deadline, and writes nothing', async () => {
    const a = newAccount();
    await t.call('updateAccountSettings', settings(a, 'before'));
    const lock = await lockAccountRow(a);
    try {
      const err = await expectError(() => t.call('updateAccountSettings', settings(a, 'blocked'), { deadlineMs: 10_000 }));
      expect({ code: err.code, reason: err.reason }).toEqual({ code: 10 /* ABORTED */, reason: 'ROW_LOCKED' });
      expect(err.retryDelayMs).toBe(250);
      // Nothing waits on the lock any more: the save gave its connection back (its ROLLBACK may
      // still be on the way when the answer arrives: ROW_LOCKED does not wait for it).
      await waitFor(async () => (await blockedBy(lock.pid)) === 0, 2_000, 'the save to stop waiting for the lock');
    } finally {
      await lock.release();
    }
    expect(await db('SELECT display_name FROM account_settings WHERE account_id = $1', [a])).toEqual([{ display_name: 'before' }]);
    expect((await t.call('updateAccountSettings', settings(a, 'retried'))).displayName).toBe('retried');
  });
});

describe('a save waiting for a row lock while PostgreSQL is too busy to report its lock timeout', () => {
  // 3 s: the waiting backend is stopped well before its own lock_timeout could fire, even on a slow host.
  const t = serverForTests({ DB_LOCK_TIMEOUT_MS: '3000' });

  it('is answered ABORTED (ROW_LOCKED) by the service\'s own clock, and rolled back behind the answer once PostgreSQL runs again', async () => {
    const a = newAccount();
    await t.call('updateAccountSettings', settings(a, 'before'));
    const lock = await lockAccountRow(a);
    let stopped: number | undefined;
    try {
      const answer = t.call('updateAccountSettings', settings(a, 'blocked'), { deadlineMs: 6_000 }).then(
        () => undefined,
        (e: unknown) => decodeError(e),
      );
      // A stopped backend can neither time out nor answer: what a starved PostgreSQL looks like to
      // the service (the incident replay's burst, with the CDC pipeline's processes at nice 10).
      stopped = await lock.waiter();
      process.kill(stopped, 'SIGSTOP');
      const err = await answer;
      expect({ code: err?.code, reason: err?.reason, retryDelayMs: err?.retryDelayMs }).toEqual({ code: 10 /* ABORTED */, reason: 'ROW_LOCKED', retryDelayMs: 250 });
      expect(await metricValue(t.running, 'settings_row_lock_timeouts_total', { noticed_by: 'service_clock' })).toBe(1);
    } finally {
      if (stopped !== undefined) process.kill(stopped, 'SIGCONT');
      await lock.release();
    }
    // The transaction behind the answer ends once its backend runs again: nothing was written and
    // the write connection went back to the pool (a save of the same row goes through).
    await waitFor(async () => (await db('SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = $1 AND state = $2', [stopped, 'active']))[0]!.n === 0, 5_000, 'the stopped backend to finish');
    expect(await db('SELECT display_name FROM account_settings WHERE account_id = $1', [a])).toEqual([{ display_name: 'before' }]);
    expect((await t.call('updateAccountSettings', settings(a, 'retried'))).displayName).toBe('retried');
  });
});

describe('a save of a held row whose lock budget ran out while it waited for a connection', () => {
  // One write connection, kept by a first save whose waiting backend is stopped (1 s: stopped well
  // before its own lock_timeout could fire, even on a slow host).
  const t = serverForTests({ DB_WRITE_POOL_MAX: '1', DB_WRITE_QUEUE_MAX: '4', DB_LOCK_TIMEOUT_MS: '1000' });

  it('is answered ROW_LOCKED right after the statement that found the row held: no transaction is begun for it', async () => {
    const a = newAccount();
    await t.call('updateAccountSettings', settings(a, 'before'));
    const lock = await lockAccountRow(a);
    const sent: string[] = [];
    const onQuery = (q: { sql: string }): number => sent.push(q.sql);
    t.running.writeKnex.on('query', onQuery);
    let stopped: number | undefined;
    try {
      const first = t.call('updateAccountSettings', settings(a, 'first'), { deadlineMs: 8_000 }).then(() => undefined, (e: unknown) => decodeError(e));
      stopped = await lock.waiter();
      process.kill(stopped, 'SIGSTOP');
      expect((await first)?.reason).toBe('ROW_LOCKED');
      const begunBefore = sent.filter((q) => /^begin/i.test(q)).length;
      // Queued behind the stopped backend for the one connection well past its 1 s budget.
      const second = t.call('updateAccountSettings', settings(a, 'second'), { deadlineMs: 8_000 }).then(() => undefined, (e: unknown) => decodeError(e));
      await new Promise((r) => setTimeout(r, 1_500));
      process.kill(stopped, 'SIGCONT');
      stopped = undefined;
      expect((await second)?.reason).toBe('ROW_LOCKED');
      expect(sent.filter((q) => /^begin/i.test(q)).length).toBe(begunBefore);
    } finally {
      t.running.writeKnex.off('query', onQuery);
      if (stopped !== undefined) process.kill(stopped, 'SIGCONT');
      await lock.release();
    }
    expect(await db('SELECT display_name FROM account_settings WHERE account_id = $1', [a])).toEqual([{ display_name: 'before' }]);
  });
});

/** The settings service's Db on a pool of its own (lock budget 800 ms), for tests that drive Db.write directly. */
function directDb(): { knex: ReturnType<typeof createKnex>; store: Db } {
  const knex = createKnex(localDatabaseUrl, 2, 10_000, 'bulkheads-test-direct-db');
  return { knex, store: new Db({ read: knex, write: knex }, createSettingsMetrics(), { statementCapMs: 10_000, lockTimeoutMs: 800, lockWaitMax: 2, writePoolMax: 2, writeQueueMax: 2, answerGraceMs: 1000 }) };
}

describe('a save whose lock budget is spent before its lock statement', () => {
  // Spent by the wait for a connection (the save first asked 1 s ago, the budget is 800 ms).
  it('is answered ROW_LOCKED and gives its lock-wait permit back', async () => {
    const x = newAccount();
    await db('INSERT INTO account_settings (account_id) VALUES ($1)', [x]);
    const { knex, store } = directDb();
    const lock = await lockAccountRow(x);
    try {
      const now = Date.now();
      const outcome = await store.write('spent-budget', now + 10_000, (trx, waits) => lockRow(trx, 'account_settings', { account_id: x }, waits, true), now - 1000).then(
        () => 'saved',
        (err: unknown) => (err as { code?: string }).code,
      );
      expect(outcome).toBe('ROW_LOCKED');
      // The permit used to stay taken: two such saves and every save of a held row was refused.
      expect(store.lockWaits.active).toBe(0);
    } finally {
      await lock.release();
      await knex.destroy();
    }
  });
});

describe('a transaction that waits for a row lock a second time', () => {
  // What writeSingleton does after losing an insert race: the row it waited for was deleted by
  // its holder, a concurrent creator's row is held next. Driven through Db.write directly: the
  // race itself needs four sessions in a precise order.
  it('is answered ROW_LOCKED when the save\'s one lock budget is spent, and gives its lock-wait permit back', async () => {
    const [x, y] = [newAccount(), newAccount()];
    await db('INSERT INTO account_settings (account_id) VALUES ($1), ($2)', [x, y]);
    const { knex, store } = directDb();
    const [lockX, lockY] = [await lockAccountRow(x), await lockAccountRow(y)];
    try {
      const started = Date.now();
      const outcome = store
        .write('second-wait', started + 10_000, async (trx, waits) => {
          await lockRow(trx, 'account_settings', { account_id: x }, waits);
          await lockRow(trx, 'account_settings', { account_id: y }, waits);
        })
        .then(() => 'saved', (err: unknown) => (err as { code?: string }).code);
      await lockX.waiter();
      await new Promise((r) => setTimeout(r, 200));
      await lockX.release();
      // Unbounded before: the second wait never started, and the call never settled.
      const answer = await Promise.race([outcome, new Promise((r) => setTimeout(() => r('no answer in 5 s'), 5000))]);
      expect(answer).toBe('ROW_LOCKED');
      expect(Date.now() - started).toBeLessThan(800 + 400);
      await waitFor(() => store.lockWaits.active === 0, 3000, 'the lock-wait permits given back');
    } finally {
      await lockX.release();
      await lockY.release();
      await knex.destroy();
    }
  });
});

describe('saves of grants whose account list another transaction holds', () => {
  // One save at a time may wait for a lock, for up to 3 s.
  const t = serverForTests({ DB_WRITE_POOL_MAX: '3', DB_LOCK_WAIT_MAX_CONCURRENCY: '1', DB_LOCK_TIMEOUT_MS: '3000' });

  it('wait for it under the lock-wait cap: while one waits, a second is refused at once with ROW_LOCKED', async () => {
    const a = newAccount();
    const parent = `accounts/${a}`;
    for (const id of ['s1', 's2', 's3']) await t.call('createStaffPermission', { parent, staffPermissionId: id, staffPermission: StaffPermission.fromPartial({ role: Role.ROLE_NURSE }) });
    // A psql session changes grant s3: the grant trigger holds the account's list row until it ends.
    const session = new Client({ connectionString: localDatabaseUrl, application_name: 'bulkheads-test-grant-session' });
    await session.connect();
    try {
      await session.query('BEGIN');
      await session.query("UPDATE staff_permissions SET disabled = true WHERE account_id = $1 AND staff_id = 's3'", [a]);
      const pid = (await session.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
      const update = (id: string): Promise<string | undefined> =>
        t.call('updateStaffPermission', { staffPermission: StaffPermission.fromPartial({ name: `${parent}/staffPermissions/${id}`, role: Role.ROLE_BILLING }), updateMask: ['role'] }, { deadlineMs: 10_000 }).then(
          () => 'saved',
          (e: unknown) => decodeError(e).reason,
        );
      const first = update('s1');
      await waitFor(async () => Number((await db('SELECT count(*) AS n FROM pg_stat_activity WHERE $1 = ANY (pg_blocking_pids(pid))', [pid]))[0]!.n) === 1, 5000, 'the first save waiting for the list row');
      // The list row's wait used to happen inside the grant's UPDATE (its trigger), uncapped:
      // this save then waited the whole 3 s in PostgreSQL too.
      const started = Date.now();
      expect(await update('s2')).toBe('ROW_LOCKED');
      expect(Date.now() - started).toBeLessThan(1000);
      await session.query('ROLLBACK');
      expect(await first).toBe('saved');
    } finally {
      await session.end();
    }
  });
});

describe('saves waiting for locks held by others are capped', () => {
  const t = serverForTests({ DB_LOCK_WAIT_MAX_CONCURRENCY: '1', DB_LOCK_TIMEOUT_MS: '60000' });

  it('saves beyond the lock-wait cap fail with ROW_LOCKED while saves of other rows succeed', async () => {
    const [a, b] = [newAccount(), newAccount()];
    await t.call('updateAccountSettings', settings(a, 'locked'));
    await t.call('updateAccountSettings', settings(b, 'free'));
    const lock = await lockAccountRow(a);
    try {
      const waiting = t.call('updateAccountSettings', settings(a, 'waits'), { deadlineMs: 8000 }).catch((e: unknown) => decodeError(e));
      await lock.waiter();
      const refused = await expectError(() => t.call('updateAccountSettings', settings(a, 'refused'), { deadlineMs: 8000 }));
      expect({ code: refused.code, reason: refused.reason, retryDelayMs: refused.retryDelayMs }).toEqual({ code: 10, reason: 'ROW_LOCKED', retryDelayMs: 250 });
      expect((await t.call('updateAccountSettings', settings(b, 'saved'))).displayName).toBe('saved');
      await lock.release();
      // The waiting save goes through once the lock is released.
      expect(await waiting).toMatchObject({ displayName: 'waits' });
    } finally {
      await lock.release();
    }
  });
});

describe('saves of a row another transaction is inserting and has not committed', () => {
  // Three write connections; one save at a time may wait for a lock, for up to 3 s.
  const t = serverForTests({ DB_WRITE_POOL_MAX: '3', DB_LOCK_WAIT_MAX_CONCURRENCY: '1', DB_LOCK_TIMEOUT_MS: '3000' });

  /** An open transaction (a psql session) that has run `sql` and not committed; ended with ROLLBACK. */
  async function uncommitted(sql: string, params: unknown[]): Promise<{ pid: number; rollback(): Promise<void> }> {
    const session = new Client({ connectionString: localDatabaseUrl, application_name: 'bulkheads-test-inserting-session' });
    await session.connect();
    await session.query('BEGIN');
    await session.query(sql, params);
    const pid = (await session.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    let ended: Promise<void> | undefined;
    return { pid, rollback: () => (ended ??= session.query('ROLLBACK').then(() => session.end())) };
  }

  /** A call's outcome (the saved display name or the error reason) and how long it took. */
  const timed = async (call: () => Promise<{ displayName?: string }>): Promise<{ outcome: string | undefined; retryDelayMs?: number; ms: number }> => {
    const started = Date.now();
    return call().then(
      (r) => ({ outcome: r.displayName ?? 'saved', ms: Date.now() - started }),
      (e: unknown) => ({ outcome: decodeError(e).reason, retryDelayMs: decodeError(e).retryDelayMs, ms: Date.now() - started }),
    );
  };

  it('allow_missing saves of it wait under the lock-wait cap: beyond it they fail at once with ROW_LOCKED, and a save of another row is served at once', async () => {
    const [held, other] = [newAccount(), newAccount()];
    await t.call('updateAccountSettings', settings(other, 'before'));
    const session = await uncommitted('INSERT INTO account_settings (account_id) VALUES ($1)', [held]);
    try {
      // More saves of the row than the cap (1) and the write pool (3) allow to wait. Their
      // INSERT … ON CONFLICT waited for the session in PostgreSQL without a permit, on
      // PostgreSQL's lock_timeout only: all three held a write connection for 3 s.
      const saves = [1, 2, 3].map((i) => timed(() => t.call('updateAccountSettings', settings(held, `save-${i}`), { deadlineMs: 10_000 })));
      const settled: Array<{ outcome: string | undefined; retryDelayMs?: number; ms: number }> = [];
      for (const s of saves) void s.then((r) => settled.push(r));
      await waitFor(() => settled.length === 2, 2_000, 'the two saves beyond the lock-wait cap answered');
      for (const r of settled) expect(r).toMatchObject({ outcome: 'ROW_LOCKED', retryDelayMs: 250 });
      for (const r of settled) expect(r.ms).toBeLessThan(1000);
      expect(await blockedBy(session.pid)).toBe(1);
      // The write pool is not taken by the waits: a save of another row is served at once.
      const otherSave = await timed(() => t.call('updateAccountSettings', settings(other, 'saved meanwhile'), { deadlineMs: 10_000 }));
      expect(otherSave.outcome).toBe('saved meanwhile');
      expect(otherSave.ms).toBeLessThan(1000);
      await session.rollback();
      // The save that waited under the permit inserts the row once the session is gone.
      const waited = (await Promise.all(saves)).filter((r) => r.outcome !== 'ROW_LOCKED');
      expect(waited).toHaveLength(1);
      expect(await db('SELECT display_name FROM account_settings WHERE account_id = $1', [held])).toEqual([{ display_name: waited[0]!.outcome }]);
    } finally {
      await session.rollback();
    }
  });

  it('grant creates waiting for the same grant, or for the account\'s new list row its trigger inserts, wait under the lock-wait cap too', async () => {
    const a = newAccount();
    const parent = `accounts/${a}`;
    // The account's first grant: the session's insert also inserts its list row (migration 0005's trigger).
    const session = await uncommitted("INSERT INTO staff_permissions (account_id, staff_id, role) VALUES ($1, 's1', 'ROLE_NURSE')", [a]);
    const create = (id: string) => timed(() => t.call('createStaffPermission', { parent, staffPermissionId: id, staffPermission: StaffPermission.fromPartial({ role: Role.ROLE_ADMIN }) }, { deadlineMs: 10_000 }).then(() => ({})));
    try {
      const first = create('s1');
      await waitFor(async () => (await blockedBy(session.pid)) === 1, 5000, 'the first create waiting for the session\'s grant');
      // The same grant (its INSERT … ON CONFLICT) and another grant of the account (the trigger's
      // list-row upsert): each waited 3 s in PostgreSQL before.
      for (const id of ['s1', 's2']) {
        const refused = await create(id);
        expect({ id, outcome: refused.outcome, retryDelayMs: refused.retryDelayMs }).toEqual({ id, outcome: 'ROW_LOCKED', retryDelayMs: 250 });
        expect(refused.ms).toBeLessThan(1000);
      }
      await session.rollback();
      expect((await first).outcome).toBe('saved');
      expect(await db('SELECT staff_id, role FROM staff_permissions WHERE account_id = $1', [a])).toEqual([{ staff_id: 's1', role: 'ROLE_ADMIN' }]);
    } finally {
      await session.rollback();
    }
  });
});

describe('saves waiting for a write connection are bounded', () => {
  // One write connection and one place in its queue: a save waiting for a held row lock keeps the
  // connection, the next save queues, the one after that is refused at once.
  const t = serverForTests({ DB_WRITE_POOL_MAX: '1', DB_WRITE_QUEUE_MAX: '1', DB_LOCK_WAIT_MAX_CONCURRENCY: '1', DB_LOCK_TIMEOUT_MS: '60000' });
  /** Saves waiting for a write connection (the pool behind knex). */
  const queuedForWriteConnection = (): number => connectionPoolOf(t.running.writeKnex).numPendingAcquires();
  /** settings_db_pool_wait_seconds_count{pool="write"}: waits for a write connection that ended. */
  const writeWaitsEnded = async (): Promise<number> => (await t.running.metrics.dbPoolWait.get()).values.find((v) => v.metricName === 'settings_db_pool_wait_seconds_count' && v.labels.pool === 'write')?.value ?? 0;

  it('refuses a save beyond pool + queue at once with UNAVAILABLE (LOAD_SHED) and a RetryInfo; the queued save still goes through', async () => {
    const [a, b, c] = [newAccount(), newAccount(), newAccount()];
    for (const id of [a, b, c]) await t.call('updateAccountSettings', settings(id, 'before'));
    const shedBefore = await metricValue(t.running, 'settings_writes_shed_total', { reason: 'queue_full' });
    const lock = await lockAccountRow(a);
    try {
      const holding = t.call('updateAccountSettings', settings(a, 'waited'), { deadlineMs: 15_000 });
      await lock.waiter();
      const queued = t.call('updateAccountSettings', settings(b, 'queued'), { deadlineMs: 15_000 });
      await waitFor(() => queuedForWriteConnection() === 1, 5000, 'a save waiting for the write connection');
      const started = Date.now();
      const refused = await expectError(() => t.call('updateAccountSettings', settings(c, 'refused'), { deadlineMs: 15_000 }));
      expect({ code: refused.code, reason: refused.reason, retryDelayMs: refused.retryDelayMs }).toEqual({ code: 14 /* UNAVAILABLE */, reason: 'LOAD_SHED', retryDelayMs: 200 });
      expect(Date.now() - started).toBeLessThan(1000);
      expect(await metricValue(t.running, 'settings_writes_shed_total', { reason: 'queue_full' })).toBe(shedBefore + 1);
      // What an operator sees meanwhile: the one connection lent out, one save waiting for it.
      expect(await metricValue(t.running, 'settings_db_pool_connections', { pool: 'write', state: 'in_use' })).toBe(1);
      expect(await metricValue(t.running, 'settings_db_pool_waiting', { pool: 'write' })).toBe(1);
      const waitsEnded = await writeWaitsEnded();
      await lock.release();
      expect((await holding).displayName).toBe('waited');
      expect((await queued).displayName).toBe('queued');
      // The queued save's wait ended when the held one gave the connection back.
      expect(await writeWaitsEnded()).toBeGreaterThanOrEqual(waitsEnded + 1);
      expect(await metricValue(t.running, 'settings_db_pool_waiting', { pool: 'write' })).toBe(0);
    } finally {
      await lock.release();
    }
    expect(await db('SELECT display_name FROM account_settings WHERE account_id = $1', [c])).toEqual([{ display_name: 'before' }]);
  });
});

describe('a save the ones ahead would keep waiting past its deadline', () => {
  const t = serverForTests({ DB_WRITE_POOL_MAX: '1', DB_LOCK_WAIT_MAX_CONCURRENCY: '1', DB_LOCK_TIMEOUT_MS: '60000' });

  it('is refused at once with UNAVAILABLE (LOAD_SHED, would_miss_deadline); one with time enough waits its turn', async () => {
    const [a, b, c] = [newAccount(), newAccount(), newAccount()];
    for (const id of [a, b, c]) await t.call('updateAccountSettings', settings(id, 'before'));
    // The pace: one save holds the only write connection for ~3 s (it waits for a row lock).
    // That long so the deadline below can leave a stall of this busy process 1.5 s to answer in
    // and still be well below the predicted wait.
    const first = await lockAccountRow(a);
    const slow = t.call('updateAccountSettings', settings(a, 'slow'), { deadlineMs: 15_000 });
    await first.waiter();
    await new Promise((r) => setTimeout(r, 3000));
    await first.release();
    await slow;

    const lock = await lockAccountRow(a);
    try {
      const holding = t.call('updateAccountSettings', settings(a, 'held'), { deadlineMs: 15_000 });
      await lock.waiter();
      const shedBefore = await metricValue(t.running, 'settings_writes_shed_total', { reason: 'would_miss_deadline' });
      const started = Date.now();
      // The one ahead holds the only connection for a lock wait: the newcomer's predicted wait is
      // the measured lock hold (~3 s) plus its own turn.
      // A deadline well below that (1.5 s, against ~3 s), yet not so short that a stall of this
      // busy process lets the client's deadline fire first. Admitted, the save would wait for the
      // lock until that deadline (DEADLINE_EXCEEDED, not LOAD_SHED).
      const refused = await expectError(() => t.call('updateAccountSettings', settings(b, 'refused'), { deadlineMs: 1500 }));
      expect({ code: refused.code, reason: refused.reason }).toEqual({ code: 14 /* UNAVAILABLE */, reason: 'LOAD_SHED' });
      // Told to come back when the one ahead will have given the connection back, at the pace
      // measured (it held it ≥ 3 s), not after the fixed 200 ms that would find it still held.
      expect(refused.retryDelayMs).toBeGreaterThanOrEqual(3000);
      expect(refused.retryDelayMs).toBeLessThanOrEqual(5000);
      expect(Date.now() - started).toBeLessThan(1500);
      expect(await metricValue(t.running, 'settings_writes_shed_total', { reason: 'would_miss_deadline' })).toBe(shedBefore + 1);
      const patient = t.call('updateAccountSettings', settings(c, 'patient'), { deadlineMs: 15_000 });
      await lock.release();
      expect((await holding).displayName).toBe('held');
      expect((await patient).displayName).toBe('patient');
    } finally {
      await lock.release();
    }
    expect(await db('SELECT display_name FROM account_settings WHERE account_id = $1', [b])).toEqual([{ display_name: 'before' }]);
  });
});

describe('a save that queued for a write connection', () => {
  // One write connection; two saves may wait for a lock, each for at most 600 ms.
  const t = serverForTests({ DB_WRITE_POOL_MAX: '1', DB_LOCK_WAIT_MAX_CONCURRENCY: '2', DB_LOCK_TIMEOUT_MS: '600' });

  it('has spent that time of its lock budget: behind a save waiting for a lock (DB_LOCK_TIMEOUT_MS 600 ms) it fails within 1 s of arriving, and a save of a free row queued the same way succeeds', async () => {
    const [a, b, free] = [newAccount(), newAccount(), newAccount()];
    for (const id of [a, b, free]) await t.call('updateAccountSettings', settings(id, 'before'));
    const [lockA, lockB] = [await lockAccountRow(a), await lockAccountRow(b)];
    try {
      // The first save holds the only write connection while it waits 600 ms for a's lock.
      const first = t.call('updateAccountSettings', settings(a, 'first'), { deadlineMs: 10_000 }).catch((e: unknown) => decodeError(e));
      await lockA.waiter();
      // Queued behind it for ~600 ms, then finding b locked: with its lock wait counted from the
      // connection it would wait 600 ms more (~1.2 s in all).
      const started = Date.now();
      const second = t.call('updateAccountSettings', settings(b, 'second'), { deadlineMs: 10_000 }).catch((e: unknown) => decodeError(e));
      const third = t.call('updateAccountSettings', settings(free, 'third'), { deadlineMs: 10_000 });
      expect(await first).toMatchObject({ code: 10, reason: 'ROW_LOCKED' });
      expect(await second).toMatchObject({ code: 10, reason: 'ROW_LOCKED' });
      // 600 ms plus slack for this busy process; counted from the connection it would be ~1.2 s.
      expect(Date.now() - started).toBeLessThan(1_000);
      expect((await third).displayName).toBe('third');
    } finally {
      await lockA.release();
      await lockB.release();
    }
  });
});

describe('saves that waited for someone else\'s row lock', () => {
  // Three write connections, one save at a time may wait for a lock, for 600 ms.
  const t = serverForTests({ DB_WRITE_POOL_MAX: '3', DB_LOCK_WAIT_MAX_CONCURRENCY: '1', DB_LOCK_TIMEOUT_MS: '600' });

  it('do not make saves of free rows look slow: a burst of them is admitted and saved while another save waits for the lock', async () => {
    const locked = newAccount();
    const free = Array.from({ length: 8 }, () => newAccount());
    for (const id of [locked, ...free]) await t.call('updateAccountSettings', settings(id, 'before'));
    const shedBefore = await metricValue(t.running, 'settings_writes_shed_total', { reason: 'would_miss_deadline' });
    const lock = await lockAccountRow(locked);
    try {
      // Three saves of the locked row each hold a write connection for the lock timeout and
      // give up: what a bulk UPDATE does to the saves of its rows.
      for (let i = 0; i < 3; i += 1) {
        const err = await expectError(() => t.call('updateAccountSettings', settings(locked, `blocked-${i}`), { deadlineMs: 5000 }));
        expect(err.reason).toBe('ROW_LOCKED');
      }
      // ROW_LOCKED may be answered on the service's clock before PostgreSQL's lock_timeout ends
      // the statement; the one lock-wait permit is free only once that statement settled and its
      // connection came back (ROLLBACK queues behind it). Sent earlier, the next save is refused
      // at once and never waits.
      await waitFor(async () => (await metricValue(t.running, 'settings_db_pool_connections', { pool: 'write', state: 'in_use' })) === 0, 5_000, 'the blocked saves\' connections back in the pool');
      const waiting = t.call('updateAccountSettings', settings(locked, 'waiting'), { deadlineMs: 5000 }).catch((e: unknown) => decodeError(e));
      await lock.waiter();
      // Eight saves of free rows at once on the two other connections, 1 s each to spare:
      // four waves of one-statement saves. Paced by the lock waits (~600 ms a wave), they were refused.
      const saved = await Promise.all(free.map((id) => t.call('updateAccountSettings', settings(id, 'burst'), { deadlineMs: 1_000 }).then((r) => r.displayName)));
      expect(saved).toEqual(free.map(() => 'burst'));
      expect(await metricValue(t.running, 'settings_writes_shed_total', { reason: 'would_miss_deadline' })).toBe(shedBefore);
      expect(await waiting).toMatchObject({ reason: 'ROW_LOCKED' });
    } finally {
      await lock.release();
    }
  });
});

describe('separate pools for reads and writes', () => {
  // Two write connections, both held by saves waiting on a row lock (no lock timeout within the
  // call): a fully_consistent read of another account must still get a read connection.
  const t = serverForTests({ DB_READ_POOL_MAX: '2', DB_WRITE_POOL_MAX: '2', DB_LOCK_TIMEOUT_MS: '60000' });

  it('serves database reads while every write connection is stuck behind a row lock', async () => {
    const [a, b] = [newAccount(), newAccount()];
    await t.call('updateAccountSettings', settings(a, 'locked'));
    await t.call('updateAccountSettings', settings(b, 'free'));
    const lock = await lockAccountRow(a);
    try {
      const stuck = [1, 2].map((i) => t.call('updateAccountSettings', settings(a, `stuck-${i}`), { deadlineMs: 8000 }).catch((e: unknown) => e));
      // The second save queues behind the first one's tuple lock, not the holder's: count the
      // backends blocked by the holder and those blocked by them.
      const waitingSaves = async (): Promise<number> =>
        (
          await db(
            `WITH first AS (SELECT pid FROM pg_stat_activity WHERE $1 = ANY (pg_blocking_pids(pid)))
             SELECT pid FROM pg_stat_activity WHERE pid IN (SELECT pid FROM first) OR pg_blocking_pids(pid) && ARRAY(SELECT pid FROM first)`,
            [lock.pid],
          )
        ).length;
      await waitFor(async () => (await waitingSaves()) === 2, 5000, 'both write connections blocked on the row lock');
      const read = await t.call('getAccountSettings', { name: `accounts/${b}/settings`, consistency: fullyConsistent }, { deadlineMs: 3000 });
      expect(read.displayName).toBe('free');
      await lock.release();
      await Promise.all(stuck);
    } finally {
      await lock.release();
    }
  });
});

describe('deliberate database reads are shared fairly between callers', () => {
  // Four permits, at most two per caller, a 100 ms wait for one. Its log lines are kept: the
  // runbook finds a flooder by the line that names it.
  const logged: Array<Record<string, unknown>> = [];
  const t = serverForTests({ DB_DELIBERATE_READ_MAX_CONCURRENCY: '4', DB_DELIBERATE_READS_PER_CALLER: '2', DB_DELIBERATE_READ_MAX_WAIT_MS: '100' }, {}, {
    write: (line: string) => void logged.push(JSON.parse(line) as Record<string, unknown>),
  });

  it('one caller flooding fully_consistent reads gets RESOURCE_EXHAUSTED, and a warn line names it, while another caller\'s fully_consistent reads and saves succeed', async () => {
    const [flooder, other] = await Promise.all([mintToken({ sub: 'flooder' }), mintToken({ sub: 'other-service' })]);
    const a = newAccount();
    await t.call('updateAccountSettings', settings(a, 'other caller'));
    // Hold the flooder's reads inside PostgreSQL: a table lock blocks every SELECT on the table.
    const lock = await lockTable('onpatient_settings', 'bulkheads-test-locker');
    const lockerPid = lock.pid;
    try {
      const flood = Array.from({ length: 12 }, () =>
        t
          .call('getOnPatientSettings', { name: `accounts/${uniqueId()}/onpatientSettings`, consistency: fullyConsistent }, { token: flooder, deadlineMs: 8000 })
          .then(() => undefined, (err: unknown) => decodeError(err)),
      );
      // The flooder's share: two reads admitted, blocked in PostgreSQL (one query when they
      // arrived together: misses that arrive together share a query, batched-load.ts).
      const admitted = async (): Promise<number> =>
        (await metricValue(t.running, 'settings_deliberate_reads_total', { result: 'admitted' })) + (await metricValue(t.running, 'settings_deliberate_reads_total', { result: 'waited' }));
      await waitFor(async () => (await admitted()) === 2 && (await blockedBy(lockerPid)) >= 1, 5000, 'the flooder\'s share (2) in PostgreSQL');
      // While the flooder holds its share, the other caller is served at once.
      const read = await t.call('getAccountSettings', { name: `accounts/${a}/settings`, consistency: fullyConsistent }, { token: other, deadlineMs: 3000 });
      expect(read.displayName).toBe('other caller');
      const saved = await t.call('updateAccountSettings', settings(a, 'saved meanwhile'), { token: other, deadlineMs: 3000 });
      expect(saved.displayName).toBe('saved meanwhile');

      // Which two of the twelve got the share depends on arrival order: wait for the ten refusals.
      await waitFor(async () => (await metricValue(t.running, 'settings_deliberate_reads_total', { result: 'shed' })) === 10, 5000, 'ten reads over the share shed');
      // The flooder's two and the other caller's one: none of the flooder's ten more got in.
      expect(await admitted()).toBe(3);
      expect(await blockedBy(lockerPid)).toBeGreaterThanOrEqual(1);
      await lock.release();
      const outcomes = await Promise.all(flood);
      const shed = outcomes.filter((e) => e?.code === 8);
      for (const err of shed) {
        expect({ code: err?.code, reason: err?.reason, retryDelayMs: err?.retryDelayMs }).toEqual({ code: 8 /* RESOURCE_EXHAUSTED */, reason: 'CALLER_SHARE_EXCEEDED', retryDelayMs: 100 });
      }
      // The two admitted reads complete (those accounts have no OnPatient settings: NOT_FOUND).
      expect({ shed: shed.length, admitted: outcomes.filter((e) => e?.code === 5).length }).toEqual({ shed: 10, admitted: 2 });
      expect(await metricValue(t.running, 'settings_deliberate_reads_total', { result: 'shed' })).toBe(10);
      // The metric has no caller; the warn line names the flooder (docs/operations.md, "Deliberate-read floods").
      const named = logged.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('deliberate read refused'));
      expect(named.length).toBeGreaterThanOrEqual(1);
      expect(named.map((l) => [l.level, l.caller, l.result])).toContainEqual(['warn', 'flooder', 'shed']);
      expect(named.some((l) => l.caller === 'other-service')).toBe(false);
    } finally {
      await lock.release();
    }
  });

  it('another caller\'s cache miss of a key the flooder waits to read is not held behind the flooder\'s share', async () => {
    const [flooder, other] = await Promise.all([mintToken({ sub: 'flooder-2' }), mintToken({ sub: 'other-service-2' })]);
    const k = newAccount();
    await t.call('updateAccountSettings', settings(k, 'cold key'));
    const lock = await lockTable('onpatient_settings', 'bulkheads-test-locker');
    try {
      // The flooder's share (two), held in PostgreSQL by the table lock.
      const held = [0, 1].map(() =>
        t.call('getOnPatientSettings', { name: `accounts/${uniqueId()}/onpatientSettings`, consistency: fullyConsistent }, { token: flooder, deadlineMs: 8000 }).catch((e: unknown) => e),
      );
      await waitFor(async () => (await blockedBy(lock.pid)) >= 1, 5000, 'the flooder\'s share in PostgreSQL');
      // Its read of k waits (100 ms here) for a share it will not get.
      const flooderRead = t.call('getAccountSettings', { name: `accounts/${k}/settings`, consistency: fullyConsistent }, { token: flooder, deadlineMs: 3000 }).then(() => 'read', (e: unknown) => decodeError(e).reason);
      await new Promise((r) => setTimeout(r, 30));
      // Another caller's plain Get of k misses the cache meanwhile: it used to join the
      // flooder's load, wait with it and be refused with it (CALLER_SHARE_EXCEEDED).
      const read = await t.call('getAccountSettings', { name: `accounts/${k}/settings` }, { token: other, deadlineMs: 3000 });
      expect(read.displayName).toBe('cold key');
      expect(await flooderRead).toBe('CALLER_SHARE_EXCEEDED');
      await lock.release();
      await Promise.all(held);
    } finally {
      await lock.release();
    }
  });

  it('a token newer than the cached entry is a deliberate read too', async () => {
    const a = newAccount();
    const name = `accounts/${a}/onpatientSettings`;
    const written = await t.call('updateOnPatientSettings', { onpatientSettings: OnPatientSettings.fromPartial({ name, portalEnabled: true }), allowMissing: true });
    const before = await metricValue(t.running, 'settings_deliberate_reads_total');
    // Cache it (minimize_latency), then ask for something newer than what is cached: the
    // token of a later write that no invalidator evicted (none runs in this test).
    const filled = (): Promise<number> => metricValue(t.running, 'settings_cache_fills_total', { space: 'onpatient-settings', result: 'written' });
    const filledBefore = await filled();
    await t.call('getOnPatientSettings', { name });
    await waitFor(async () => (await filled()) > filledBefore, 5000, 'filled');
    const later = await t.call('updateOnPatientSettings', { onpatientSettings: OnPatientSettings.fromPartial({ name, portalEnabled: false }), updateMask: ['portal_enabled'], allowMissing: false });
    expect(BigInt(later.etag)).toBeGreaterThan(BigInt(written.etag));
    const read = await t.call('getOnPatientSettings', { name, consistency: { requirement: { $case: 'atLeastAsFresh', value: later.consistencyToken } } });
    expect(read.portalEnabled).toBe(false);
    expect(await metricValue(t.running, 'settings_deliberate_reads_total')).toBe(before + 1);
  });
});
