import { AccountSettings } from '@settings/api';
import { accountsDeletedAfterAll, metricValue, startTestServer, type TestServer } from '../support/test-server';

/**
 * One database read per cold key across replicas: three settings servers (each its own Redis
 * connections, pools and single-flight, as three pods) get concurrent Gets of one key nobody has
 * cached. The fill lease lets one load it; the others read its fill.
 */
const newAccount = accountsDeletedAfterAll();
const REPLICAS = 3;
const READS_PER_REPLICA = 20;

/** Concurrent Gets of one cold name on every replica; `exists` false: the name has no row (each Get is NOT_FOUND). */
async function coldReads(servers: TestServer[], exists = true): Promise<{ dbReads: number; names: string[] }> {
  const account = newAccount();
  const name = `accounts/${account}/settings`;
  if (exists) await servers[0]!.call('updateAccountSettings', { accountSettings: AccountSettings.fromPartial({ name, displayName: 'cold' }), allowMissing: true });
  const before = await Promise.all(servers.map((s) => metricValue(s.running, 'settings_db_queries_total', { kind: 'account_settings.read' })));
  const reads = servers.flatMap((s) => Array.from({ length: READS_PER_REPLICA }, () => s.call('getAccountSettings', { name }).then((g) => g.displayName, (err: { code?: number }) => `code ${err.code}`)));
  const names = await Promise.all(reads);
  const after = await Promise.all(servers.map((s) => metricValue(s.running, 'settings_db_queries_total', { kind: 'account_settings.read' })));
  return { dbReads: after.reduce((sum, v, i) => sum + v - before[i]!, 0), names };
}

describe.each([
  ['with fill leases (default)', {}, 'exactly one'],
  ['without fill leases (FILL_LEASE_MS=0), the control', { FILL_LEASE_MS: '0' }, 'more than one'],
] as const)('%s', (_label, overrides, expected) => {
  const servers: TestServer[] = [];
  beforeAll(async () => {
    for (let i = 0; i < REPLICAS; i++) servers.push(await startTestServer(overrides));
  });
  afterAll(() => Promise.all(servers.map((s) => s.close())));

  it(`three replicas missing one cold key at once read PostgreSQL ${expected} time`, async () => {
    const { dbReads, names } = await coldReads(servers);
    expect(names.every((n) => n === 'cold')).toBe(true);
    if (expected === 'exactly one') expect(dbReads).toBe(1);
    // Single-flight alone: one read per replica that missed before another's fill landed.
    else expect(dbReads).toBeGreaterThan(1);
  });

  it(`three replicas missing one name that does not exist read PostgreSQL ${expected} time`, async () => {
    const { dbReads, names } = await coldReads(servers, false);
    // NOT_FOUND everywhere; with leases the holder's cached absence answers the waiting replicas.
    expect(new Set(names)).toEqual(new Set(['code 5']));
    if (expected === 'exactly one') expect(dbReads).toBe(1);
    else expect(dbReads).toBeGreaterThan(1);
  });
});
