import { AccountSettings, StaffPermission, Role } from '@settings/api';
import { accountsDeletedAfterAll, metricValue, serverForTests } from '../support/test-server';

/** Concurrent misses for one key in one process cost one database query. */
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
