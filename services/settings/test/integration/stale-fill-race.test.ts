import { AccountSettings, OnPatientSettings } from '@settings/api';
import { cacheKeys, parseCacheValue, renewAllGenerations, withCacheScripts } from '@settings/shared';
import { createTestRedis } from '@settings/local-stack';
import { PausedFill } from '../support/paused-fill';
import { accountsDeletedAfterAll, metricValue, serverForTests, waitFor } from '../support/test-server';

/**
 * The race the versioned fill exists for: a reader loads version N from PostgreSQL and stalls
 * before filling; meanwhile N+1 is written and the invalidator's marker lands. The stalled fill
 * must be fenced, so the old value never appears in the cache after the eviction.
 */
const redis = withCacheScripts(createTestRedis());
const newAccount = accountsDeletedAfterAll();
afterAll(async () => {
  redis.disconnect();
});

describe('a fill that lost the race with a newer write', () => {
  const fill = new PausedFill();
  const t = serverForTests({}, { readThroughHooks: fill.hooks });

  it('is fenced by the eviction marker, and the next read returns and caches the new value', async () => {
    const a = newAccount();
    const name = `accounts/${a}/settings`;
    const { key } = cacheKeys.accountSettings(a);
    const v1 = await t.call('updateAccountSettings', { accountSettings: AccountSettings.fromPartial({ name, displayName: 'old' }), allowMissing: true });
    fill.pause(key);

    // 1. A reader misses, loads version v1 and stalls before its fill.
    const staleRead = t.call('getAccountSettings', { name });
    expect(await fill.loaded).toBe(BigInt(v1.etag));

    // 2. A writer commits v2 and the invalidator replaces the (absent) entry by a marker.
    const v2 = await t.call('updateAccountSettings', { accountSettings: AccountSettings.fromPartial({ name, displayName: 'new' }), allowMissing: false });
    expect(await redis.evictToMarker(key, v2.etag, t.config.CACHE_MARKER_TTL_SECONDS * 1000)).toBe(1);
    const fencedBefore = await metricValue(t.running, 'settings_cache_fills_total', { space: 'account-settings', result: 'fenced' });

    // 3. The stalled reader resumes: it answers with what it read, but its fill is refused.
    fill.release();
    expect((await staleRead).displayName).toBe('old');
    // The response does not wait for the fill; the fill's outcome shows in the metric.
    await waitFor(async () => (await metricValue(t.running, 'settings_cache_fills_total', { space: 'account-settings', result: 'fenced' })) === fencedBefore + 1, 5000, 'fenced fill');
    expect(parseCacheValue(await redis.getBuffer(key))).toEqual({ kind: 'marker', floor: BigInt(v2.etag) });

    // 4. The next reader sees the marker, reads v2 and fills it.
    const writtenBefore = await metricValue(t.running, 'settings_cache_fills_total', { space: 'account-settings', result: 'written' });
    const next = await t.call('getAccountSettings', { name });
    expect(next).toMatchObject({ displayName: 'new', etag: v2.etag });
    await waitFor(async () => (await metricValue(t.running, 'settings_cache_fills_total', { space: 'account-settings', result: 'written' })) === writtenBefore + 1, 5000, 'fill of v2');
    const cached = parseCacheValue(await redis.getBuffer(key));
    expect(cached?.kind === 'entry' && AccountSettings.decode(cached.payload).displayName).toBe('new');
    expect(cached?.kind === 'entry' && cached.version).toBe(BigInt(v2.etag));
  });

  it('is not the answer of a later read that found the marker: that read loads the new version itself instead of joining the stalled load', async () => {
    const a = newAccount();
    const name = `accounts/${a}/settings`;
    const { key } = cacheKeys.accountSettings(a);
    await t.call('updateAccountSettings', { accountSettings: AccountSettings.fromPartial({ name, displayName: 'old' }), allowMissing: true });
    fill.pause(key);
    // 1. A reader misses, loads the old version and stalls before its fill (its load can be joined until then).
    const staleRead = t.call('getAccountSettings', { name });
    await fill.loaded;
    // 2. A writer commits the new version and its marker lands.
    const v2 = await t.call('updateAccountSettings', { accountSettings: AccountSettings.fromPartial({ name, displayName: 'new' }), allowMissing: false });
    expect(await redis.evictToMarker(key, v2.etag, t.config.CACHE_MARKER_TTL_SECONDS * 1000)).toBe(1);
    // 3. A second reader finds the marker. Joining the stalled load, it used to answer 'old'
    // after the marker had landed.
    const later = t.call('getAccountSettings', { name });
    try {
      expect(await later).toMatchObject({ displayName: 'new', etag: v2.etag });
    } finally {
      fill.release();
    }
    expect((await staleRead).displayName).toBe('old');
  });
});

describe('a fill whose database read is older than half the marker lifetime', () => {
  let delayKey = '';
  // Marker TTL 1 s: a fill more than 500 ms after its read could outlive a marker, so it is dropped.
  const t = serverForTests({ CACHE_MARKER_TTL_SECONDS: '1' }, {
    readThroughHooks: {
      async beforeFill(key) {
        if (key === delayKey) await new Promise((r) => setTimeout(r, 700));
      },
    },
  });

  it('is skipped, leaving the key empty', async () => {
    const a = newAccount();
    const name = `accounts/${a}/onpatientSettings`;
    await t.call('updateOnPatientSettings', { onpatientSettings: OnPatientSettings.fromPartial({ name, portalEnabled: true }), allowMissing: true });
    delayKey = cacheKeys.onPatientSettings(a).key;
    expect((await t.call('getOnPatientSettings', { name })).portalEnabled).toBe(true);
    await waitFor(async () => (await metricValue(t.running, 'settings_cache_fills_total', { space: 'onpatient-settings', result: 'skipped_old' })) === 1, 5000, 'skipped fill');
    expect(await redis.getBuffer(delayKey)).toBeNull();
  });
});

describe('a fill that loaded an old row under a new generation, after a fill of the old generation took the marker’s place', () => {
  // versioned-fill.lua's interleaving, through two replicas: S read generation G1 just before
  // the generation changed; R read G2 and loaded v1; v2 committed and was evicted; S loaded v2
  // and filled it under G1, replacing the marker; R's fill of v1 under G2 must not become the
  // current entry. No fill leases, so each replica loads for itself, as when a lease expired.
  let stallLookup: { key: string; reached: () => void; gate: Promise<void> } | undefined;
  const s = serverForTests(
    { FILL_LEASE_MS: '0' },
    {
      readThroughHooks: {
        afterLookup: async (keys) => {
          const stall = stallLookup;
          if (!stall || !keys.includes(stall.key)) return;
          stallLookup = undefined;
          stall.reached();
          await stall.gate;
        },
      },
    },
  );
  const rFill = new PausedFill();
  const r = serverForTests({ FILL_LEASE_MS: '0' }, { readThroughHooks: rFill.hooks });

  it('is fenced, and both replicas then read v2', async () => {
    const a = newAccount();
    const name = `accounts/${a}/settings`;
    const { key } = cacheKeys.accountSettings(a);
    const v1 = await r.call('updateAccountSettings', { accountSettings: AccountSettings.fromPartial({ name, displayName: 'v1' }), allowMissing: true });

    // 1. S misses and stalls after its lookup: it holds generation G1 and has not loaded yet.
    let releaseS!: () => void;
    const sReached = new Promise<void>((reached) => {
      stallLookup = { key, reached, gate: new Promise<void>((g) => (releaseS = g)) };
    });
    const sRead = s.call('getAccountSettings', { name });
    await sReached;
    // 2. The generation changes (as on a TRUNCATE or an incarnation renewal). Other test files
    // only see misses.
    await renewAllGenerations(redis);
    await new Promise((res) => setTimeout(res, 200)); // the near-caches hear of it (push, ~1 ms)
    // 3. R misses under G2, loads v1 and stalls before its fill.
    rFill.pause(key);
    const rRead = r.call('getAccountSettings', { name });
    expect(await rFill.loaded).toBe(BigInt(v1.etag));
    // 4. v2 commits; its marker lands (the test writes it, as the invalidator does).
    const v2 = await r.call('updateAccountSettings', { accountSettings: AccountSettings.fromPartial({ name, displayName: 'v2' }), allowMissing: false });
    await redis.evictToMarker(key, v2.etag, s.config.CACHE_MARKER_TTL_SECONDS * 1000);
    // 5. S loads v2 and fills it under G1, replacing the marker.
    const writtenBefore = await metricValue(s.running, 'settings_cache_fills_total', { space: 'account-settings', result: 'written' });
    releaseS();
    expect((await sRead).displayName).toBe('v2');
    await waitFor(async () => (await metricValue(s.running, 'settings_cache_fills_total', { space: 'account-settings', result: 'written' })) === writtenBefore + 1, 5000, 'S filled v2 under G1');
    // 6. R fills v1 under G2: refused, and the version S's entry held stays a fence.
    const rFills = async (): Promise<number> =>
      (await metricValue(r.running, 'settings_cache_fills_total', { space: 'account-settings', result: 'fenced' })) +
      (await metricValue(r.running, 'settings_cache_fills_total', { space: 'account-settings', result: 'written' }));
    const rFillsBefore = await rFills();
    rFill.release();
    expect((await rRead).displayName).toBe('v1');
    await waitFor(async () => (await rFills()) === rFillsBefore + 1, 5000, "R's fill");
    await new Promise((res) => setTimeout(res, 200)); // the near-caches hear of it

    // Every later read, on either replica, is v2; the key holds the fence.
    for (const t of [r, s, r]) expect(await t.call('getAccountSettings', { name })).toMatchObject({ displayName: 'v2', etag: v2.etag });
    expect(await metricValue(r.running, 'settings_cache_fills_total', { space: 'account-settings', result: 'fenced' })).toBeGreaterThan(0);
  });
});
