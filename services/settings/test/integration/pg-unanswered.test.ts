import { status } from '@grpc/grpc-js';
import { AccountSettings, Role, StaffPermission } from '@settings/api';
import { startPgPartitionProxy, type PgPartitionProxy } from '@settings/local-stack';
import { accountsDeletedAfterAll, decodeError, metricValue, startTestServer, waitFor, type TestServer } from '../support/test-server';

/**
 * README, Guarantees ("a PostgreSQL that stops answering holds nothing past a call's
 * deadline"): a partition or a database host that vanished leaves every socket open and
 * silent, so PostgreSQL's own timeouts never answer and no error ever comes. The service
 * closes a connection PostgreSQL has not answered by the call's deadline plus
 * DB_ANSWER_GRACE_MS: its pool place and its save's admission place come back, and once
 * PostgreSQL is reachable again (here: a failover, new connections get through) saves and
 * reads work at once instead of waiting for the kernel's TCP timeouts (about 15 minutes).
 * The service talks to PostgreSQL through a proxy this test cuts; nothing else is affected.
 */
jest.setTimeout(60_000);
const GRACE_MS = 300;
const CALL_DEADLINE_MS = 500;
const newAccount = accountsDeletedAfterAll();
const fullyConsistent = { requirement: { $case: 'fullyConsistent' as const, value: true } };
let proxy: PgPartitionProxy | undefined;
let t: TestServer | undefined;

beforeAll(async () => {
  proxy = await startPgPartitionProxy();
  t = await startTestServer({
    DATABASE_URL: proxy.databaseUrl,
    DB_READ_POOL_MAX: '2',
    DB_WRITE_POOL_MAX: '2',
    DB_WRITE_QUEUE_MAX: '2',
    DB_STATEMENT_TIMEOUT_MS: '2000',
    DB_ANSWER_GRACE_MS: String(GRACE_MS),
  });
});
afterAll(async () => {
  // The cut sockets first, so the server's shutdown does not wait on them.
  await proxy?.close();
  await t?.close();
});

const save = (account: string, displayName: string, deadlineMs: number) =>
  t!.call('updateAccountSettings', { accountSettings: AccountSettings.fromPartial({ name: `accounts/${account}/settings`, displayName }), allowMissing: true }, { deadlineMs });

it('a PostgreSQL that stops answering holds no connection and no save slot past the call deadline plus DB_ANSWER_GRACE_MS; after a failover saves and reads work within 15 s', async () => {
  const server = t!;
  const [a, b] = [newAccount(), newAccount()];
  // Both pools have a connection through the proxy.
  await save(a, 'before the partition', 5000);
  await server.call('getAccountSettings', { name: `accounts/${a}/settings`, consistency: fullyConsistent });
  const cutBefore = { read: await metricValue(server.running, 'settings_db_connections_cut_total', { pool: 'read' }), write: await metricValue(server.running, 'settings_db_connections_cut_total', { pool: 'write' }) };

  proxy!.partition();
  const partitionedAt = Date.now();
  // More saves (one-statement attempts and a grant change's transaction) and database reads
  // than the pools have connections, each with a short deadline.
  // The grant change first: its transaction gets the write pool's open connection. Four writes
  // fill write admission (DB_WRITE_POOL_MAX + DB_WRITE_QUEUE_MAX): a save after the failover is
  // admitted only if their places came back.
  const calls = [
    server.call('createStaffPermission', { parent: `accounts/${b}`, staffPermissionId: 's1', staffPermission: StaffPermission.fromPartial({ role: Role.ROLE_ADMIN }) }, { deadlineMs: CALL_DEADLINE_MS }),
    ...[1, 2, 3].map((i) => save(a, `during the partition ${i}`, CALL_DEADLINE_MS)),
    ...[1, 2, 3].map(() => server.call('getAccountSettings', { name: `accounts/${a}/settings`, consistency: fullyConsistent }, { deadlineMs: CALL_DEADLINE_MS })),
  ];
  for (const outcome of await Promise.allSettled(calls)) {
    expect(outcome.status).toBe('rejected');
    if (outcome.status === 'rejected') expect([status.DEADLINE_EXCEEDED, status.UNAVAILABLE]).toContain(decodeError(outcome.reason).code);
  }

  // Still partitioned: by the deadline plus the grace (and a slack for a busy machine) nothing
  // holds a connection for them any more. Without the cut, a read would hold its connection
  // until knex's cancel had failed to connect (DB_STATEMENT_TIMEOUT_MS later), a save until the
  // kernel gave up on the socket.
  await waitFor(async () => (await metricValue(server.running, 'settings_db_pool_connections', { state: 'in_use' })) === 0, 5_000, 'no connection held for a call PostgreSQL never answered');
  expect(Date.now() - partitionedAt).toBeLessThan(CALL_DEADLINE_MS + GRACE_MS + 1000);
  // The connection each pool had open was in use, silent, and closed; the connections the pools
  // tried to open meanwhile were never lent (their connect attempts time out).
  for (const pool of ['read', 'write'] as const) expect(await metricValue(server.running, 'settings_db_connections_cut_total', { pool })).toBeGreaterThanOrEqual(cutBefore[pool] + 1);

  // Save places (DB_WRITE_POOL_MAX + DB_WRITE_QUEUE_MAX) are given back too: no save after the
  // failover is refused for want of one.
  const queueFullBefore = await metricValue(server.running, 'settings_writes_shed_total', { reason: 'queue_full' });
  proxy!.failover();
  // Reachable again: a save and a database read succeed within seconds. A connection that sat
  // idle in a pool through the partition is silent too; a call that draws one is cut like the
  // others, so a few calls may fail first.
  const failedOverAt = Date.now();
  await waitFor(
    () =>
      save(a, 'after the failover', 2000).then(
        () => true,
        () => false,
      ),
    15_000,
    'a save after the failover',
  );
  await waitFor(
    () =>
      server.call('getAccountSettings', { name: `accounts/${a}/settings`, consistency: fullyConsistent }, { deadlineMs: 2000 }).then(
        (read) => read.displayName === 'after the failover',
        () => false,
      ),
    15_000,
    'a database read after the failover',
  );
  expect(Date.now() - failedOverAt).toBeLessThan(15_000);
  expect(await metricValue(server.running, 'settings_writes_shed_total', { reason: 'queue_full' })).toBe(queueFullBefore);
});
