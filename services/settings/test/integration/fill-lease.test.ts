import { AccountSettings } from '@settings/api';
import { cacheKeys, fillLeaseKey, parseCacheValue } from '@settings/shared';
import { createTestRedis } from '@settings/local-stack';
import { accountsDeletedAfterAll, metricValue, startTestServer, waitFor, type TestServer } from '../support/test-server';

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
  // A lease longer than the default 500 ms: a holder whose load and fill a loaded CI machine
  // stalls past its lease lets a waiter take the lease over and read too (as designed), which is
  // not what this counts. Leases not taken or not honoured still read once per replica.
  ['with fill leases (FILL_LEASE_MS=2000)', { FILL_LEASE_MS: '2000' }, 'exactly one'],
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

describe('a read that holds the lease of one cold key and waits for another\'s', () => {
  const LEASE_MS = 2000;
  const redis = createTestRedis();
  let server: TestServer;
  beforeAll(async () => {
    // Leases of 2 s, not the default 500 ms: "at once" must land inside the lease it holds (the
    // harm is that lease running out first), with room for a loaded CI machine.
    server = await startTestServer({ FILL_LEASE_MS: String(LEASE_MS) });
  });
  afterAll(async () => {
    await server.close();
    redis.disconnect();
  });

  it('loads and fills the key it holds at once, not after the other key\'s wait', async () => {
    const [a, b] = [newAccount(), newAccount()];
    const names = [a, b].map((id) => `accounts/${id}/settings`);
    for (const name of names) await server.call('updateAccountSettings', { accountSettings: AccountSettings.fromPartial({ name, displayName: 'cold' }), allowMissing: true });
    // Another replica holds b's lease and never fills it: this read waits for b up to four
    // lease lifetimes (8 s).
    const keyA = cacheKeys.accountSettings(a).key;
    await redis.set(fillLeaseKey(cacheKeys.accountSettings(b).key), 'another-replica', 'PX', 5 * LEASE_MS);
    const started = Date.now();
    const batch = server.call('batchGetAccountSettings', { names });
    let filledAfter = Number.POSITIVE_INFINITY;
    await waitFor(async () => {
      const v = parseCacheValue(await redis.getBuffer(keyA));
      if (v?.kind === 'entry' && v.version > 0n) filledAfter = Date.now() - started;
      return filledAfter < Number.POSITIVE_INFINITY;
    }, 5000, `fill of ${keyA}`);
    const got = await batch;
    const answeredAfter = Date.now() - started;
    expect(got.accountSettings.map((s) => s.displayName)).toEqual(['cold', 'cold']);
    // Before, a's load started only when b's wait ended (four lease lifetimes): its lease had run
    // out, and the replicas waiting on a would have waited it out and loaded a again.
    expect({ filledAfter: filledAfter < LEASE_MS, answeredAfter: answeredAfter >= 3 * LEASE_MS }).toEqual({ filledAfter: true, answeredAfter: true });
  });
});
