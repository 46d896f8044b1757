import { AccountSettings } from '@settings/api';
import { accountsDeletedAfterAll, metricValue, startTestServer, type TestServer } from '../support/test-server';

/**
 * README, near-cache (L1): "an `lru-cache` LRU bounded by `NEAR_CACHE_MAX_ENTRIES` and
 * `NEAR_CACHE_MAX_BYTES`", through a running replica against the real Redis: reading more
 * accounts than either bound holds keeps L1 at the bound (its own gauges), counts what the LRU
 * evicted, and an account evicted from L1 is still answered right, from Redis.
 */
jest.setTimeout(60_000);
const newAccount = accountsDeletedAfterAll();
const ACCOUNTS = 120;

const name = (a: string): string => `accounts/${a}/settings`;
/** Distinct per account and as long as a display name may be (200), so entries have some weight. */
const displayName = (a: string): string => `${a} `.padEnd(200, 'x');

async function seed(t: TestServer): Promise<string[]> {
  const accounts = Array.from({ length: ACCOUNTS }, () => newAccount());
  for (const a of accounts) {
    await t.call('updateAccountSettings', { accountSettings: AccountSettings.fromPartial({ name: name(a), displayName: displayName(a) }), updateMask: ['display_name'], allowMissing: true });
  }
  return accounts;
}

/** Reads every account twice (a fill, then a read that L1 may serve) and checks every answer. */
async function readAll(t: TestServer, accounts: readonly string[]): Promise<void> {
  for (let pass = 0; pass < 2; pass++) {
    for (const a of accounts) expect((await t.call('getAccountSettings', { name: name(a) })).displayName).toBe(displayName(a));
  }
}

const gauge = (t: TestServer, n: string): Promise<number> => metricValue(t.running, n);
const l1 = (t: TestServer, result: string): Promise<number> => metricValue(t.running, 'settings_near_cache_requests_total', { space: 'account-settings', result });

describe('NEAR_CACHE_MAX_ENTRIES', () => {
  let t: TestServer | undefined;
  beforeAll(async () => {
    t = await startTestServer({ NEAR_CACHE_MAX_ENTRIES: '20' });
  });
  afterAll(() => t?.close());

  it('keeps at most that many entries while more accounts are read, evicting the oldest entries, and an evicted account is answered from Redis', async () => {
    const accounts = await seed(t!);
    await readAll(t!, accounts);
    expect(await gauge(t!, 'settings_near_cache_entries')).toBeLessThanOrEqual(20);
    // Every account was installed once at least: all but the last 20 were evicted by the bound.
    expect(await gauge(t!, 'settings_near_cache_evictions_total')).toBeGreaterThanOrEqual(ACCOUNTS - 20);
    // The first account is long gone from L1: its read misses L1 and is answered from Redis, right.
    const misses = await l1(t!, 'miss');
    expect((await t!.call('getAccountSettings', { name: name(accounts[0]!) })).displayName).toBe(displayName(accounts[0]!));
    expect(await l1(t!, 'miss')).toBe(misses + 1);
    // The last one read is still there: served by L1.
    const hits = await l1(t!, 'hit');
    expect((await t!.call('getAccountSettings', { name: name(accounts[ACCOUNTS - 1]!) })).displayName).toBe(displayName(accounts[ACCOUNTS - 1]!));
    expect(await l1(t!, 'hit')).toBe(hits + 1);
  });
});

describe('NEAR_CACHE_MAX_BYTES', () => {
  const MAX_BYTES = 16 * 1024;
  let t: TestServer | undefined;
  beforeAll(async () => {
    t = await startTestServer({ NEAR_CACHE_MAX_BYTES: String(MAX_BYTES) });
  });
  afterAll(() => t?.close());

  it('keeps the counted bytes at most that many, with far fewer entries than the entry bound allows', async () => {
    const accounts = await seed(t!);
    await readAll(t!, accounts);
    const bytes = await gauge(t!, 'settings_near_cache_bytes');
    const entries = await gauge(t!, 'settings_near_cache_entries');
    expect(bytes).toBeGreaterThan(0);
    expect(bytes).toBeLessThanOrEqual(MAX_BYTES);
    // ~1.5 KB counted per entry (payload, 4× for its decoded copy, key, overhead): about 10 fit.
    expect(entries).toBeGreaterThan(0);
    expect(entries).toBeLessThan(ACCOUNTS / 4);
    expect(await gauge(t!, 'settings_near_cache_evictions_total')).toBeGreaterThanOrEqual(ACCOUNTS - entries);
  });
});
