import { cacheKeys, createCacheRedis, generationKey, parseCacheValue, PayloadGenerations, type CacheRedis, type CacheValue, type KeySpace } from '@settings/shared';
import type { HarnessDb } from './db';
import type { SettingsKey } from './keys';
import type { SettingsCaller } from './settings-client';

/**
 * The harness looking into (and, for the planted entry, writing into) the services' Redis, one
 * known key at a time: GET of the scenario's own keys, never KEYS or SCAN.
 */
const tableKey = (k: SettingsKey) => (k.kind === 'account' ? cacheKeys.accountSettings(k.accountId) : cacheKeys.doctorSettings(k.accountId, k.doctorId!));
export const cacheKeyOf = (k: SettingsKey): string => tableKey(k).key;
export const spaceOf = (k: SettingsKey): KeySpace => tableKey(k).space;

export type CacheEntry = Extract<CacheValue, { kind: 'entry' }>;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function openCache(url: string): Promise<CacheRedis> {
  const redis = createCacheRedis(url, { commandTimeoutMs: 2_000, autoPipelining: true, lazyConnect: true });
  await redis.connect();
  return redis;
}

export async function readValue(redis: CacheRedis, key: SettingsKey): Promise<CacheValue | undefined> {
  return parseCacheValue(await redis.getBuffer(cacheKeyOf(key)));
}

const payloadGenerations = new PayloadGenerations();

/** The generation the services' entries of `space` carry now (payload format folded in), or null when Redis has none. */
export async function currentGeneration(redis: CacheRedis, space: KeySpace): Promise<string | null> {
  const raw = await redis.get(generationKey(space));
  return raw === null ? null : payloadGenerations.of(space, BigInt(raw)).toString();
}

/** The generations of the two key spaces the suite's keys live in (evidence that none was renewed). */
export async function generations(redis: CacheRedis): Promise<string> {
  return `${await currentGeneration(redis, 'account-settings')}/${await currentGeneration(redis, 'doctor-settings')}`;
}

/** Of `keys`: entries under their space's current generation, and entries of a dead (renewed) generation, which are misses. */
export async function countEntries(redis: CacheRedis, keys: readonly SettingsKey[]): Promise<{ current: number; dead: number }> {
  const gens = new Map<KeySpace, string | null>();
  const out = { current: 0, dead: 0 };
  for (const k of keys) {
    const space = spaceOf(k);
    if (!gens.has(space)) gens.set(space, await currentGeneration(redis, space));
    const v = await readValue(redis, k);
    if (v?.kind !== 'entry') continue;
    if (v.generation.toString() === gens.get(space)) out.current++;
    else out.dead++;
  }
  return out;
}

/**
 * Reads `key` through the service until the cache holds an entry of the current generation (at
 * least `minVersion`; by default any row's, never a cached absence, which has version 0), or
 * undefined after `timeoutMs`.
 */
export async function waitEntry(redis: CacheRedis, caller: SettingsCaller, key: SettingsKey, deadlineMs: number, minVersion = 1n, timeoutMs = 15_000): Promise<CacheEntry | undefined> {
  const t0 = Date.now();
  while (Date.now() - t0 < timeoutMs) {
    await caller.get(key, 'default', deadlineMs);
    const v = await readValue(redis, key);
    if (v?.kind === 'entry' && v.version >= minVersion && v.generation.toString() === (await currentGeneration(redis, spaceOf(key)))) return v;
    await sleep(100);
  }
  return undefined;
}

export async function waitUntil(cond: () => Promise<boolean>, timeoutMs: number, everyMs = 100): Promise<boolean> {
  const t0 = Date.now();
  while (Date.now() - t0 < timeoutMs) {
    if (await cond()) return true;
    await sleep(everyMs);
  }
  return false;
}

/** The row's version and display_name (undefined: no row). */
export async function readRow(db: HarnessDb, key: SettingsKey): Promise<{ version: bigint; displayName: string } | undefined> {
  const rows =
    key.kind === 'account'
      ? await db.query<{ version: string; display_name: string }>('SELECT version::text AS version, display_name FROM account_settings WHERE account_id = $1', [key.accountId])
      : await db.query<{ version: string; display_name: string }>('SELECT version::text AS version, display_name FROM doctor_settings WHERE account_id = $1 AND doctor_id = $2', [key.accountId, key.doctorId]);
  return rows[0] ? { version: BigInt(rows[0].version), displayName: rows[0].display_name } : undefined;
}
