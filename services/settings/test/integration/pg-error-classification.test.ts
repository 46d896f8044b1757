import net from 'node:net';
import knexFactory, { type Knex } from 'knex';
import { localDatabaseUrl, localStack } from '@settings/shared';
import { classify } from '../../src/grpc/status-mapping';
import { lockAccountRow } from '../support/row-lock';
import { accountsDeletedAfterAll, db, waitFor } from '../support/test-server';

const newAccount = accountsDeletedAfterAll();

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
