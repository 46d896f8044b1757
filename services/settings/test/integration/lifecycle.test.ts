import { createServer, type AddressInfo } from 'node:net';
import { join, dirname } from 'node:path';
import Redis from 'ioredis';
import { credentials, loadPackageDefinition, makeGenericClientConstructor, type Client, type ServiceError } from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { AccountSettings, OnPatientSettings } from '@settings/api';
import { localRedisUrl } from '@settings/shared';
import { service as healthService } from 'grpc-health-check';
import { lockTable } from '../support/row-lock';
import { accountsDeletedAfterAll, db, decodeError, expectError, metricValue, serverForTests, startTestServer, waitFor } from '../support/test-server';

/** Operations surface: health, reflection, metrics, deadlines and graceful shutdown. */
const newAccount = accountsDeletedAfterAll();

type HealthClient = Client & {
  check(req: { service: string }, cb: (err: ServiceError | null, res: { status: string }) => void): void;
  watch(req: { service: string }): NodeJS.EventEmitter & { cancel(): void };
};
const HealthCtor = makeGenericClientConstructor(healthService, 'Health');
const healthClient = (port: number) => new HealthCtor(`127.0.0.1:${port}`, credentials.createInsecure()) as unknown as HealthClient;

describe('a running server', () => {
  const t = serverForTests();

  it('reports SERVING on grpc.health.v1 for the server and for settings.v1.SettingsService', async () => {
    const health = healthClient(t.running.port);
    for (const service of ['', 'settings.v1.SettingsService']) {
      const res = await new Promise<{ status: string }>((resolve, reject) => health.check({ service }, (err, r) => (err ? reject(err) : resolve(r))));
      expect(res.status).toBe('SERVING');
    }
    health.close();
  });

  it('lists its services over server reflection', async () => {
    const reflectionProto = join(dirname(require.resolve('@grpc/reflection/package.json')), 'build/proto/grpc/reflection/v1/reflection.proto');
    const pkg = loadPackageDefinition(protoLoader.loadSync(reflectionProto, { keepCase: true })) as unknown as {
      grpc: { reflection: { v1: { ServerReflection: new (addr: string, creds: ReturnType<typeof credentials.createInsecure>) => Client & { ServerReflectionInfo(): NodeJS.EventEmitter & { write(m: unknown): void; end(): void } } } } };
    };
    const client = new pkg.grpc.reflection.v1.ServerReflection(`127.0.0.1:${t.running.port}`, credentials.createInsecure());
    const stream = client.ServerReflectionInfo();
    const response = new Promise<{ list_services_response: { service: Array<{ name: string }> } }>((resolve, reject) => {
      stream.on('data', resolve);
      stream.on('error', reject);
    });
    stream.write({ list_services: '' });
    const names = (await response).list_services_response.service.map((s) => s.name);
    stream.end();
    client.close();
    expect(names).toEqual(expect.arrayContaining(['settings.v1.SettingsService', 'grpc.health.v1.Health']));
  });

  it('exposes Prometheus metrics on its metrics port', async () => {
    await expectError(() => t.call('getAccountSettings', { name: 'bad' }));
    const body = await (await fetch(`http://127.0.0.1:${t.running.metricsPort}/metrics`)).text();
    expect(body).toContain('settings_grpc_requests_total{method="GetAccountSettings",code="INVALID_ARGUMENT"}');
    for (const name of ['settings_grpc_request_duration_seconds', 'settings_cache_requests_total', 'settings_cache_fills_total', 'settings_cache_coalesced_total', 'settings_db_queries_total', 'settings_cache_fallback_total', 'settings_load_shed_total', 'settings_redis_circuit_open']) {
      expect(body).toContain(name);
    }
    expect((await fetch(`http://127.0.0.1:${t.running.metricsPort}/readyz`)).status).toBe(200);
  });

  it('carries the call deadline into PostgreSQL: a blocked query is cancelled, not left running (a save\'s wait for the table lock ends at DB_LOCK_TIMEOUT_MS first)', async () => {
    const a = newAccount();
    const lock = await lockTable('account_settings');
    const waiting = async () =>
      Number((await db(`SELECT count(*) AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query ILIKE '%account_settings%' AND pid <> $1`, [lock.pid]))[0]!.n);
    try {
      const read = await expectError(() => t.call('getAccountSettings', { name: `accounts/${a}/settings`, consistency: { requirement: { $case: 'fullyConsistent', value: true } } }, { deadlineMs: 300 }));
      expect(read.code).toBe(4); // DEADLINE_EXCEEDED
      // Write sessions bound every lock wait by DB_LOCK_TIMEOUT_MS (250 ms): well inside this
      // deadline, the save is refused ABORTED ROW_LOCKED with RetryInfo instead of timing out.
      const write = await expectError(() => t.call('updateAccountSettings', { accountSettings: AccountSettings.fromPartial({ name: `accounts/${a}/settings`, displayName: 'x' }), allowMissing: true }, { deadlineMs: 3000 }));
      expect(write).toMatchObject({ code: 10 /* ABORTED */, reason: 'ROW_LOCKED' });
      // Both statements give up inside PostgreSQL while the lock is still held.
      await waitFor(async () => (await waiting()) === 0, 3000, 'blocked statements cancelled');
    } finally {
      await lock.release();
    }
  });
});

describe('a save blocked by a lock past its deadline', () => {
  // The lock budget and the connection cut far away: only the deadline carried into PostgreSQL
  // (SET LOCAL statement_timeout) can end the statement's wait while the lock is held.
  const t = serverForTests({ DB_LOCK_TIMEOUT_MS: '20000', DB_ANSWER_GRACE_MS: '20000' });

  it('is cancelled inside PostgreSQL at its deadline, not left waiting for the lock', async () => {
    const a = newAccount();
    const lock = await lockTable('account_settings');
    const blocked = async (): Promise<number> => Number((await db('SELECT count(*) AS n FROM pg_stat_activity WHERE $1 = ANY (pg_blocking_pids(pid))', [lock.pid]))[0]!.n);
    try {
      const save = expectError(() => t.call('updateAccountSettings', { accountSettings: AccountSettings.fromPartial({ name: `accounts/${a}/settings`, displayName: 'x' }), allowMissing: true }, { deadlineMs: 800 }));
      await waitFor(async () => (await blocked()) === 1, 5000, 'the save blocked on the lock');
      expect((await save).code).toBe(4); // DEADLINE_EXCEEDED
      // Its statement leaves PostgreSQL at the deadline, while the lock is still held.
      await waitFor(async () => (await blocked()) === 0, 1500, 'the blocked save cancelled by its deadline');
    } finally {
      await lock.release();
    }
    expect(await db('SELECT 1 FROM account_settings WHERE account_id = $1', [a])).toEqual([]);
  });
});

describe('a read or a save that waited for a database connection past its deadline', () => {
  // One connection per pool, so a second call queues for it. A long lock budget, so the holder
  // below keeps the write pool's connection while it waits for the table lock (write sessions
  // end a lock wait at DB_LOCK_TIMEOUT_MS).
  const t = serverForTests({ DB_READ_POOL_MAX: '1', DB_WRITE_POOL_MAX: '1', DB_LOCK_TIMEOUT_MS: '20000' });
  const fullyConsistent = { requirement: { $case: 'fullyConsistent' as const, value: true } };
  // The late save's deadline is long enough that write admission admits it (it refuses a save
  // it foresees missing its deadline, which would not exercise the queue), short enough to pass
  // while it waits behind the holder.
  const cases = [
    {
      call: 'read',
      hold: (a: string) => t.call('getOnPatientSettings', { name: `accounts/${a}/onpatientSettings`, consistency: fullyConsistent }, { deadlineMs: 15_000 }),
      late: (a: string) => t.call('getAccountSettings', { name: `accounts/${a}/settings`, consistency: fullyConsistent }, { deadlineMs: 300 }),
    },
    {
      call: 'save',
      hold: (a: string) => t.call('updateOnPatientSettings', { onpatientSettings: OnPatientSettings.fromPartial({ name: `accounts/${a}/onpatientSettings`, portalEnabled: true }), allowMissing: true }, { deadlineMs: 15_000 }),
      late: (a: string) => t.call('updateAccountSettings', { accountSettings: AccountSettings.fromPartial({ name: `accounts/${a}/settings`, displayName: 'late' }), allowMissing: true }, { deadlineMs: 1500 }),
    },
  ];

  it.each(cases)('sends no statement once it gets the connection, not even a BEGIN: no work starts after the deadline ($call)', async ({ hold, late }) => {
    const a = newAccount();
    const [holderLock, lateLock] = [await lockTable('onpatient_settings'), await lockTable('account_settings')];
    const blockedOn = async (lock: { pid: number }): Promise<number> => Number((await db('SELECT count(*) AS n FROM pg_stat_activity WHERE $1 = ANY (pg_blocking_pids(pid))', [lock.pid]))[0]!.n);
    // Every statement either pool sends from the moment the late call is made, with its
    // transaction (knex's query event carries the id).
    const sent: Array<{ sql: string; tx: string | undefined }> = [];
    const record = (q: { sql: string; __knexTxId?: string }): number => sent.push({ sql: q.sql, tx: q.__knexTxId });
    try {
      // The pool's one connection, held by a call blocked on the first lock.
      const holder = hold(a).catch((e: unknown) => e);
      await waitFor(async () => (await blockedOn(holderLock)) === 1, 5000, 'the holder blocked');
      for (const k of [t.running.knex, t.running.writeKnex]) k.on('query', record);
      // Queued for the connection until its deadline passed: it must not reach PostgreSQL.
      const refused = await expectError(() => late(a));
      expect(refused.code).toBe(4 /* DEADLINE_EXCEEDED */);
      // Watched from before the connection comes free for a second: a statement sent then and
      // cancelled at its own timeout would be seen waiting on the second lock meanwhile.
      let seen = 0;
      const watching = (async () => {
        for (const until = Date.now() + 1000; Date.now() < until; ) seen = Math.max(seen, await blockedOn(lateLock));
      })();
      await holderLock.release();
      await holder;
      await watching;
      expect(seen).toBe(0);
      // Only the holder's statements went out (a save holder may open its transaction only now,
      // after its one-statement attempt waited on the lock): nothing on the late call's table,
      // and no transaction that is not the holder's, not even a bare BEGIN.
      const holderTxs = new Set(sent.filter((q) => q.tx !== undefined && /onpatient_settings/.test(q.sql)).map((q) => q.tx));
      expect(sent.filter((q) => /account_settings/.test(q.sql) || (q.tx !== undefined && !holderTxs.has(q.tx))).map((q) => q.sql)).toEqual([]);
    } finally {
      for (const k of [t.running.knex, t.running.writeKnex]) k.off('query', record);
      await holderLock.release();
      await lateLock.release();
    }
    expect(await db('SELECT 1 FROM account_settings WHERE account_id = $1', [a])).toEqual([]);
  });
});

describe('graceful shutdown', () => {
  it('turns health NOT_SERVING, lets the in-flight call finish, then closes', async () => {
    const a = newAccount();
    const t = await startTestServer();
    const name = `accounts/${a}/onpatientSettings`;
    await t.call('updateOnPatientSettings', { onpatientSettings: OnPatientSettings.fromPartial({ name, portalEnabled: true }), allowMissing: true });

    const health = healthClient(t.running.port);
    const statuses: string[] = [];
    const watch = health.watch({ service: '' });
    watch.on('data', (m: { status: string }) => statuses.push(m.status));
    watch.on('error', () => undefined);
    await waitFor(() => statuses.includes('SERVING'), 5000, 'SERVING');

    // Keep one call in flight inside PostgreSQL while shutdown starts.
    const lock = await lockTable('onpatient_settings');
    const inFlight = t.call('getOnPatientSettings', { name, consistency: { requirement: { $case: 'fullyConsistent', value: true } } });
    await waitFor(async () => Number((await db(`SELECT count(*) AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query ILIKE '%onpatient_settings%'`))[0]!.n) > 0, 5000, 'read blocked');
    let stopped = false;
    const stopping = t.running.stop().then(() => (stopped = true));
    await waitFor(() => statuses.includes('NOT_SERVING'), 5000, 'NOT_SERVING');
    watch.cancel();
    expect(stopped).toBe(false);

    await lock.release();
    expect((await inFlight).portalEnabled).toBe(true);
    await stopping;
    health.close();
    t.client.close();
  });

  it('ends an open grpc.health.v1 Watch after sending it NOT_SERVING: the drain does not wait for the grace period', async () => {
    const t = await startTestServer({ SHUTDOWN_GRACE_MS: '10000' });
    const health = healthClient(t.running.port);
    const statuses: string[] = [];
    const watch = health.watch({ service: '' });
    watch.on('data', (m: { status: string }) => statuses.push(m.status));
    watch.on('error', () => undefined);
    const ended = new Promise<number>((resolve) => watch.on('status', (st: { code: number }) => resolve(st.code)));
    await waitFor(() => statuses.includes('SERVING'), 5000, 'SERVING');
    const started = Date.now();
    await t.running.stop();
    expect(Date.now() - started).toBeLessThan(5000);
    expect(statuses).toContain('NOT_SERVING');
    expect(await ended).toBe(0); // OK: ended by the server, not cancelled
    health.close();
    t.client.close();
  });

  it('a call still waiting for a database connection when the grace period ends is answered UNAVAILABLE (SHUTTING_DOWN), not INTERNAL', async () => {
    const a = newAccount();
    // One read connection; a long acquire timeout, so the second read is still waiting at the end.
    const t = await startTestServer({ DB_READ_POOL_MAX: '1', DB_STATEMENT_TIMEOUT_MS: '10000', SHUTDOWN_GRACE_MS: '300' });
    const fullyConsistent = { requirement: { $case: 'fullyConsistent' as const, value: true } };
    const lock = await lockTable('onpatient_settings');
    try {
      const holder = t.call('getOnPatientSettings', { name: `accounts/${a}/onpatientSettings`, consistency: fullyConsistent }, { deadlineMs: 15_000 }).catch((e: unknown) => e);
      await waitFor(async () => (await metricValue(t.running, 'settings_db_pool_connections', { pool: 'read', state: 'in_use' })) === 1, 5000, 'the holder has the connection');
      const waiter = t.call('getAccountSettings', { name: `accounts/${a}/settings`, consistency: fullyConsistent }, { deadlineMs: 15_000 }).catch((e: unknown) => e);
      await waitFor(async () => (await metricValue(t.running, 'settings_db_pool_waiting', { pool: 'read' })) === 1, 5000, 'the waiter queued for it');
      const stopping = t.running.stop();
      // The grace period ends; the pools close once the holder's connection is back.
      await new Promise((r) => setTimeout(r, 600));
      await lock.release();
      await Promise.all([holder, waiter, stopping]);
      expect(await metricValue(t.running, 'settings_grpc_requests_total', { method: 'GetAccountSettings' })).toBe(1);
      expect(await metricValue(t.running, 'settings_grpc_requests_total', { method: 'GetAccountSettings', code: 'UNAVAILABLE' })).toBe(1);
      expect(decodeError(await waiter)).toMatchObject({ code: 14 /* UNAVAILABLE */, reason: 'SHUTTING_DOWN' });
    } finally {
      await lock.release();
      t.client.close();
    }
  });
});

describe('a start that fails', () => {
  it('closes every Redis connection it opened, the near-cache subscriber too (its gRPC port is taken)', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const admin = new Redis(localRedisUrl, { maxRetriesPerRequest: 1 });
    try {
      const clients = async (): Promise<number> => String(await admin.client('LIST')).trim().split('\n').length;
      // Connections of the servers closed before this one may still be going away: wait until the count holds.
      let before = await clients();
      await waitFor(
        async () => {
          await new Promise((r) => setTimeout(r, 300));
          const now = await clients();
          const steady = now === before;
          before = now;
          return steady;
        },
        10_000,
        'a steady count of Redis clients',
      );
      const port = (taken.address() as AddressInfo).port;
      await expect(startTestServer({ GRPC_PORT: String(port) })).rejects.toThrow();
      await waitFor(async () => (await clients()) <= before, 5000, 'the failed start-up closed its Redis connections');
      // And they stay closed: nothing reconnects them.
      await new Promise((r) => setTimeout(r, 1000));
      expect(await clients()).toBeLessThanOrEqual(before);
    } finally {
      admin.disconnect();
      taken.close();
    }
  });
});
