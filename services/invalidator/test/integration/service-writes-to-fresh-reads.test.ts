import { status } from '@grpc/grpc-js';
import { AccountSettings, type GetAccountSettingsRequest, type UpdateAccountSettingsRequest } from '@settings/api';
import { cacheKeys } from '@settings/shared';
import { uniqueId } from '@settings/local-stack';
import { accountSettingsVersion, readCache, sql, startTestInvalidator, testRedis, waitFor } from '../support/test-invalidator';
import type { RunningInvalidator } from '../../src/invalidator';
import { startLocalSettingsService, type LocalSettingsService } from '../support/local-settings-service';

/**
 * The whole loop with every real component: a write through the gRPC service (or psql)
 * commits to Postgres, Debezium streams it, the invalidator fences the key, and the next
 * plain (cache-allowed) read returns the new value. The service itself never touches the
 * cache on write.
 */
jest.setTimeout(120_000);
let settings: LocalSettingsService;
let inv: RunningInvalidator;
const redis = testRedis();

beforeAll(async () => {
  inv = await startTestInvalidator();
  settings = await startLocalSettingsService({});
});
afterAll(async () => {
  await settings.stop();
  await inv.stop();
  redis.disconnect();
});

const update = (req: UpdateAccountSettingsRequest): Promise<AccountSettings> => settings.update(req);
const get = (req: GetAccountSettingsRequest): Promise<AccountSettings> => settings.get(req);

const newAccount = (displayName: string) => settings.newAccount(displayName);

/** Reads through the cache until the entry holds `etag`: proves the value is cached, not re-read. */
async function cachedAt(name: string, key: string, etag: string): Promise<void> {
  await waitFor(async () => {
    await get({ name });
    const v = await readCache(redis, key);
    return v?.kind === 'entry' && v.version === BigInt(etag);
  }, 20_000, `cache entry at version ${etag}`);
}

describe('writes through the service or psql reach readers through the invalidator', () => {
  it('an update through gRPC is evicted by the invalidator and the next cached read returns it', async () => {
    const { name, key } = await newAccount('Before');
    const first = await get({ name });
    await cachedAt(name, key, first.etag);

    const t0 = Date.now();
    const written = await update({ accountSettings: AccountSettings.fromPartial({ name, displayName: 'After' }), updateMask: ['display_name'], allowMissing: false });
    // Until the eviction lands a plain read may still see 'Before' (that is what the consistency
    // token is for); after it, never again.
    await waitFor(async () => (await get({ name })).displayName === 'After', 20_000, 'new value visible');
    process.stderr.write(`[measure] gRPC update → cached read returns new value: ${Date.now() - t0} ms\n`);
    const v = await readCache(redis, key);
    expect(v?.kind === 'entry' ? v.version : v?.kind === 'marker' ? v.floor : undefined).toBe(BigInt(written.etag));
  });

  it('an update made in psql reaches the next cached read the same way', async () => {
    const { account, name, key } = await newAccount('Service name');
    const first = await get({ name });
    await cachedAt(name, key, first.etag);
    await sql("UPDATE account_settings SET display_name = 'Changed in psql' WHERE account_id = $1", [account]);
    await waitFor(async () => (await get({ name })).displayName === 'Changed in psql', 20_000, 'psql change visible');
  });

  it('a row created in psql after its absence was cached is read once the invalidator fences the absence', async () => {
    const account = uniqueId();
    const name = `accounts/${account}/settings`;
    const { key } = cacheKeys.accountSettings(account);
    try {
      await expect(get({ name })).rejects.toMatchObject({ code: status.NOT_FOUND });
      // The absence is cached (an entry of version 0): the next NOT_FOUNDs come from the cache.
      await waitFor(async () => {
        const v = await readCache(redis, key);
        return v?.kind === 'entry' && v.version === 0n;
      }, 5000, 'absence cached');
      await expect(get({ name })).rejects.toMatchObject({ code: status.NOT_FOUND });

      await sql("INSERT INTO account_settings (account_id, display_name) VALUES ($1, 'Created in psql')", [account]);
      const version = await accountSettingsVersion(account);
      await waitFor(async () => (await get({ name }).catch(() => undefined))?.displayName === 'Created in psql', 20_000, 'created row visible');
      const v = await readCache(redis, key);
      expect(v?.kind === 'entry' ? v.version : v?.kind === 'marker' ? v.floor : undefined).toBe(version);
    } finally {
      await sql('DELETE FROM account_settings WHERE account_id = $1', [account]);
    }
  });

  it('readers racing writes and evictions never leave an old value cached after quiescence', async () => {
    const { account, name, key } = await newAccount('v0');
    let stop = false;
    const readers = Array.from({ length: 16 }, async () => {
      while (!stop) await get({ name }).catch(() => undefined);
    });
    for (let i = 1; i <= 40; i++) {
      await sql('UPDATE account_settings SET display_name = $2 WHERE account_id = $1', [account, `v${i}`]);
      await new Promise((r) => setTimeout(r, 25));
    }
    const finalVersion = await accountSettingsVersion(account);
    // Quiescence: the invalidator has applied the last change (marker or fresh entry at its version).
    await waitFor(async () => {
      const v = await readCache(redis, key);
      return (v?.kind === 'marker' && v.floor >= finalVersion) || (v?.kind === 'entry' && v.version >= finalVersion);
    }, 30_000, 'last eviction applied');
    await new Promise((r) => setTimeout(r, 300));
    stop = true;
    await Promise.all(readers);
    expect((await get({ name })).displayName).toBe('v40');
    const cached = await readCache(redis, key);
    if (cached?.kind === 'entry') expect(cached.version).toBe(finalVersion);
    else expect(cached).toEqual({ kind: 'marker', floor: finalVersion });
  });
});
