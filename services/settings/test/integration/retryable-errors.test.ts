import net from 'node:net';
import { status as GrpcStatus, type ServiceError } from '@grpc/grpc-js';
import knexFactory, { type Knex } from 'knex';
import { Client } from 'pg';
import { AccountSettings, ErrorInfo, RetryInfo, Status } from '@settings/api';
import { localDatabaseUrl, localStack } from '@settings/shared';
import { classify } from '../../src/grpc/status-mapping';
import { db, deleteAccounts, startTestServer, uniqueId, waitFor, type TestServer } from '../support/test-server';

/**
 * Failures of PostgreSQL that a retry can fix reach the caller as UNAVAILABLE with a
 * google.rpc.RetryInfo, never INTERNAL. The shared PostgreSQL is never stopped: a write is held
 * on a row lock of this test's own account, and then only the backend that lock blocks (found
 * with pg_blocking_pids) is terminated or cancelled.
 */
const accounts: string[] = [];
afterAll(() => deleteAccounts(accounts));

const newAccount = (): string => {
  const a = uniqueId();
  accounts.push(a);
  return a;
};

interface Failure {
  code: string;
  reason?: string;
  message: string;
  retryDelayMs?: number;
}

/** The status, ErrorInfo reason and RetryInfo delay a caller decodes from a failed call. */
function failureOf(err: unknown): Failure {
  if (!err) throw new Error('expected the call to fail, but it succeeded');
  const e = err as ServiceError;
  const out: Failure = { code: GrpcStatus[e.code] ?? String(e.code), message: e.details };
  const raw = e.metadata?.get('grpc-status-details-bin')[0];
  if (!Buffer.isBuffer(raw)) return out;
  for (const any of Status.decode(raw).details) {
    if (any.typeUrl === 'type.googleapis.com/google.rpc.ErrorInfo') out.reason = ErrorInfo.decode(any.value).reason;
    if (any.typeUrl === 'type.googleapis.com/google.rpc.RetryInfo') {
      const d = RetryInfo.decode(any.value).retryDelay;
      out.retryDelayMs = d ? d.seconds * 1000 + d.nanos / 1e6 : 0;
    }
  }
  return out;
}

interface RowLock {
  /** Backend pid of the lock holder. */
  pid: number;
  /** The pid of the one backend waiting for this lock (polls until there is one). */
  waiter(): Promise<number>;
  release(): Promise<void>;
}

/** Holds `FOR UPDATE` on the account's settings row in an open transaction of its own connection. */
async function lockAccountRow(accountId: string): Promise<RowLock> {
  const client = new Client({ connectionString: localDatabaseUrl, application_name: 'retryable-errors-test-locker' });
  await client.connect();
  await client.query('BEGIN');
  const locked = await client.query('SELECT account_id FROM account_settings WHERE account_id = $1 FOR UPDATE', [accountId]);
  if (locked.rowCount !== 1) throw new Error(`no row to lock for ${accountId}`);
  const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
  return {
    pid,
    async waiter() {
      let waiting: Array<Record<string, unknown>> = [];
      await waitFor(
        async () => {
          waiting = await db('SELECT pid, query FROM pg_stat_activity WHERE $1 = ANY (pg_blocking_pids(pid))', [pid]);
          return waiting.length > 0;
        },
        5_000,
        `a backend blocked by the row lock of ${accountId}`,
      );
      expect(waiting).toHaveLength(1);
      expect(String(waiting[0]!.query)).toMatch(/from "account_settings" .*for update/i);
      return Number(waiting[0]!.pid);
    },
    async release() {
      await client.query('ROLLBACK').catch(() => undefined);
      await client.end();
    },
  };
}

describe('a write interrupted inside PostgreSQL', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
  });
  afterAll(() => t?.close());

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
  let t: TestServer;
  beforeAll(async () => {
    // The call's deadline (10 s) is far away; the cap makes our own statement_timeout fire first,
    // so the server's answer (not the client's own deadline) is what the caller sees.
    t = await startTestServer({ DB_STATEMENT_TIMEOUT_MS: '300' });
  });
  afterAll(() => t?.close());

  it('stays DEADLINE_EXCEEDED without RetryInfo (57014 from our own statement_timeout is not a cancel by someone else)', async () => {
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
      expect(failureOf(err)).toEqual({ code: 'DEADLINE_EXCEEDED', reason: 'DEADLINE_EXCEEDED', message: 'database query exceeded the call deadline' });
    } finally {
      await lock.release();
    }
  });
});

/**
 * The error objects node-postgres and knex really throw for each way a connection fails,
 * produced here against the local stack (own knex, own connections, a TCP proxy this test cuts)
 * and classified. If a pg or knex upgrade changes a text, this is where it shows.
 */
describe('classify on errors captured live from pg and knex', () => {
  const silent = { warn: () => undefined, error: () => undefined, debug: () => undefined, deprecate: () => undefined };
  const knexTo = (connection: Knex.StaticConnectionConfig | string, acquireConnectionTimeout = 5_000): Knex =>
    knexFactory({ client: 'pg', connection, pool: { min: 0, max: 2 }, acquireConnectionTimeout, log: silent });

  /** Error of a knex transaction that blocks on `accountId`'s row lock and is then interrupted. */
  async function blockedTransactionError(interrupt: 'terminate' | 'cancel'): Promise<unknown> {
    const a = newAccount();
    await db(`INSERT INTO account_settings (account_id) VALUES ($1)`, [a]);
    const knex = knexTo(localDatabaseUrl);
    const lock = await lockAccountRow(a);
    try {
      const tx = knex
        .transaction(async (trx) => {
          await trx('account_settings').where({ account_id: a }).forUpdate().first();
        })
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      const pid = await lock.waiter();
      await db(interrupt === 'terminate' ? 'SELECT pg_terminate_backend($1)' : 'SELECT pg_cancel_backend($1)', [pid]);
      return await tx;
    } finally {
      await lock.release();
      await knex.destroy();
    }
  }

  it('pg_terminate_backend mid-transaction: knex rejects with "ROLLBACK - Connection terminated unexpectedly" → DATABASE_UNAVAILABLE', async () => {
    const err = await blockedTransactionError('terminate');
    expect(err).toBeInstanceOf(Error);
    expect((err as Error & { code?: unknown }).code).toBeUndefined();
    expect((err as Error).message).toBe('ROLLBACK - Connection terminated unexpectedly');
    expect(classify(err).code).toBe('DATABASE_UNAVAILABLE');
    expect(classify(err).cause).toBe(err);
  });

  it('pg_cancel_backend mid-transaction: 57014 "due to user request" → DATABASE_UNAVAILABLE', async () => {
    const err = await blockedTransactionError('cancel');
    expect(err).toMatchObject({ code: '57014', message: expect.stringMatching(/ - canceling statement due to user request$/) });
    expect(classify(err).code).toBe('DATABASE_UNAVAILABLE');
  });

  it('SET LOCAL statement_timeout: 57014 "due to statement timeout" → DEADLINE_EXCEEDED', async () => {
    const knex = knexTo(localDatabaseUrl);
    try {
      const err = await knex
        .transaction(async (trx) => {
          await trx.raw('SET LOCAL statement_timeout = 50');
          await trx.raw('SELECT pg_sleep(2)');
        })
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(err).toMatchObject({ code: '57014', message: 'SELECT pg_sleep(2) - canceling statement due to statement timeout' });
      expect(classify(err).code).toBe('DEADLINE_EXCEEDED');
    } finally {
      await knex.destroy();
    }
  });

  describe('through a TCP proxy to PostgreSQL that the test cuts (a crash or network loss, no FATAL message)', () => {
    let proxy: net.Server;
    const sockets = new Set<net.Socket>();
    let port = 0;
    beforeAll(async () => {
      proxy = net.createServer((downstream) => {
        const upstream = net.connect(localStack.postgresPort, '127.0.0.1');
        for (const s of [downstream, upstream]) {
          sockets.add(s);
          s.on('error', () => undefined);
          s.on('close', () => sockets.delete(s));
        }
        downstream.pipe(upstream).pipe(downstream);
      });
      await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
      port = (proxy.address() as net.AddressInfo).port;
    });
    afterAll(async () => {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => proxy.close(resolve));
    });
    const viaProxy = (): string => {
      const url = new URL(localDatabaseUrl);
      url.hostname = '127.0.0.1';
      url.port = String(port);
      return url.toString();
    };

    async function errorWhenCut(run: (knex: Knex) => Promise<unknown>, cut: (s: net.Socket) => void): Promise<unknown> {
      const knex = knexTo(viaProxy());
      try {
        const pending = run(knex).then(
          () => undefined,
          (e: unknown) => e,
        );
        await waitFor(() => sockets.size >= 2, 5_000, 'the proxied connection');
        await new Promise((r) => setTimeout(r, 200)); // the statement is running
        for (const s of sockets) cut(s);
        return await pending;
      } finally {
        await knex.destroy();
      }
    }

    it('connection closed mid-transaction → a pg connection-loss text → DATABASE_UNAVAILABLE', async () => {
      const err = await errorWhenCut(
        (knex) => knex.transaction(async (trx) => void (await trx.raw('SELECT pg_sleep(5)'))),
        (s) => s.destroy(),
      );
      expect((err as Error).message).toMatch(/^ROLLBACK - (Client has encountered a connection error and is not queryable|Connection terminated unexpectedly)$/);
      expect(classify(err).code).toBe('DATABASE_UNAVAILABLE');
    });

    it('connection reset mid-statement → ECONNRESET → DATABASE_UNAVAILABLE', async () => {
      const err = await errorWhenCut(
        (knex) => knex.raw('SELECT pg_sleep(5)'),
        (s) => s.resetAndDestroy(),
      );
      expect(err).toMatchObject({ code: 'ECONNRESET' });
      expect(classify(err).code).toBe('DATABASE_UNAVAILABLE');
    });

    it('nothing listening (server down) → ECONNREFUSED → DATABASE_UNAVAILABLE', async () => {
      const closed = net.createServer();
      await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
      const closedPort = (closed.address() as net.AddressInfo).port;
      await new Promise((resolve) => closed.close(resolve));
      const knex = knexTo(`postgres://postgres@127.0.0.1:${closedPort}/${localStack.database}`, 1_000);
      try {
        const err = await knex.raw('SELECT 1').then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(err).toMatchObject({ code: 'ECONNREFUSED' });
        expect(classify(err).code).toBe('DATABASE_UNAVAILABLE');
      } finally {
        await knex.destroy();
      }
    });
  });
});
