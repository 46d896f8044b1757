import { AccountSettings, StaffPermission, Role } from '@settings/api';
import { status } from '@grpc/grpc-js';
import { lockTable } from '../support/row-lock';
import { accountsDeletedAfterAll, decodeError, expectError, metricValue, serverForTests, waitFor } from '../support/test-server';

/** Concurrent misses in one process: one database query per key, and one for keys that miss together. */
const newAccount = accountsDeletedAfterAll();
const t = serverForTests();

/** Counts SELECTs the server's own knex sends that mention `table` and `account`. */
function countSelects(table: string, account: string): { count: () => number; stop: () => void } {
  let n = 0;
  const onQuery = (q: { method?: string; sql: string; bindings?: unknown[] }): void => {
    if (q.method === 'select' || /^\s*select/i.test(q.sql)) {
      if (q.sql.includes(table) && (q.bindings ?? []).includes(account)) n += 1;
    }
  };
  t.running.knex.on('query', onQuery);
  return { count: () => n, stop: () => t.running.knex.off('query', onQuery) };
}

it('100 concurrent Gets on a cold key make exactly one database query', async () => {
  const a = newAccount();
  const name = `accounts/${a}/settings`;
  // Writes never fill the cache, so the key is cold.
  const written = await t.call('updateAccountSettings', { accountSettings: AccountSettings.fromPartial({ name, displayName: 'cold' }), allowMissing: true });
  const selects = countSelects('account_settings', a);
  const metricBefore = await metricValue(t.running, 'settings_db_queries_total', { kind: 'account_settings.read' });
  const coalescedBefore = await metricValue(t.running, 'settings_cache_coalesced_total');

  const results = await Promise.all(Array.from({ length: 100 }, () => t.call('getAccountSettings', { name })));
  selects.stop();

  expect(results.every((r) => r.etag === written.etag && r.displayName === 'cold')).toBe(true);
  expect(selects.count()).toBe(1);
  expect(await metricValue(t.running, 'settings_db_queries_total', { kind: 'account_settings.read' })).toBe(metricBefore + 1);
  const coalesced = (await metricValue(t.running, 'settings_cache_coalesced_total')) - coalescedBefore;
  process.stderr.write(`[measure] 100 concurrent cold Gets: ${selects.count()} DB query, ${coalesced} coalesced, ${99 - coalesced} cache hits\n`);
});

it('a Get that joined a load started by a call with less time left is not failed by that call\'s deadline: it loads the key itself', async () => {
  const a = newAccount();
  const name = `accounts/${a}/settings`;
  await t.call('updateAccountSettings', { accountSettings: AccountSettings.fromPartial({ name, displayName: 'patient caller' }), allowMissing: true });
  const coalescedBefore = await metricValue(t.running, 'settings_cache_coalesced_total');
  const queriesBefore = await metricValue(t.running, 'settings_db_queries_total', { kind: 'account_settings.read' });
  // PostgreSQL is slow for this table: the first caller's load waits past its deadline.
  const lock = await lockTable('account_settings');
  try {
    const short = t.call('getAccountSettings', { name }, { deadlineMs: 400 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    await new Promise((r) => setTimeout(r, 100));
    const long = t.call('getAccountSettings', { name }, { deadlineMs: 5000 });
    await waitFor(async () => (await metricValue(t.running, 'settings_cache_coalesced_total')) === coalescedBefore + 1, 2000, 'the second Get joined the first one\'s load');
    expect(decodeError(await short).code).toBe(status.DEADLINE_EXCEEDED);
    await new Promise((r) => setTimeout(r, 200));
    await lock.release();
    expect((await long).displayName).toBe('patient caller');
    // The first caller's query, then the second caller's own.
    expect(await metricValue(t.running, 'settings_db_queries_total', { kind: 'account_settings.read' })).toBeGreaterThanOrEqual(queriesBefore + 2);
  } finally {
    await lock.release();
  }
});

it('concurrent List calls on a cold account share one list query', async () => {
  const a = newAccount();
  const parent = `accounts/${a}`;
  for (const id of ['s1', 's2', 's3']) {
    await t.call('createStaffPermission', { parent, staffPermissionId: id, staffPermission: StaffPermission.fromPartial({ role: Role.ROLE_FRONT_DESK }) });
  }
  const selects = countSelects('staff_permission_lists', a);
  const pages = await Promise.all(Array.from({ length: 50 }, () => t.call('listStaffPermissions', { parent, pageSize: 2, pageToken: '' })));
  selects.stop();
  expect(pages.every((p) => p.staffPermissions.length === 2 && p.nextPageToken !== '')).toBe(true);
  expect(selects.count()).toBe(1);
});

it('Gets of 40 different cold accounts arriving together read PostgreSQL in a few queries, each answered with its own row', async () => {
  const accounts = Array.from({ length: 40 }, () => newAccount());
  const written = new Map<string, string>();
  for (const a of accounts) {
    const r = await t.call('updateAccountSettings', { accountSettings: AccountSettings.fromPartial({ name: `accounts/${a}/settings`, displayName: `name-${a}` }), allowMissing: true });
    written.set(a, r.etag);
  }
  const missing = newAccount();
  const queriesBefore = await metricValue(t.running, 'settings_db_queries_total', { kind: 'account_settings.read' });
  const keysBefore = await metricValue(t.running, 'settings_db_keys_read_total', { kind: 'account_settings.read' });

  const [results, absent] = await Promise.all([
    Promise.all(accounts.map((a) => t.call('getAccountSettings', { name: `accounts/${a}/settings` }))),
    expectError(() => t.call('getAccountSettings', { name: `accounts/${missing}/settings` })),
  ]);

  results.forEach((r, i) => {
    const a = accounts[i]!;
    expect({ name: r.name, displayName: r.displayName, etag: r.etag }).toEqual({ name: `accounts/${a}/settings`, displayName: `name-${a}`, etag: written.get(a) });
  });
  // The account nobody created is NOT_FOUND, though its key was read in a query with the others.
  expect(absent.code).toBe(status.NOT_FOUND);
  const queries = (await metricValue(t.running, 'settings_db_queries_total', { kind: 'account_settings.read' })) - queriesBefore;
  const keys = (await metricValue(t.running, 'settings_db_keys_read_total', { kind: 'account_settings.read' })) - keysBefore;
  process.stderr.write(`[measure] 41 concurrent Gets of distinct cold keys: ${queries} DB queries for ${keys} keys\n`);
  expect(keys).toBe(41);
  // One per key before misses were batched; how many batches depends on how the 41 calls
  // arrive (HTTP/2 frames, Redis replies), but never close to one each.
  expect(queries).toBeLessThanOrEqual(8);
});
