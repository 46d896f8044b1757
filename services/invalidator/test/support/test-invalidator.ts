import type { DestinationStream } from 'pino';
import type { CacheRedisClient } from '@settings/shared';
import { cacheKeys, createLogger, localStack, parseCacheValue, type CacheValue } from '@settings/shared';
import { createTestRedis, pgQuery, positionGroupAtEnd as positionAtEnd, testRedisEnv, uniqueId, waitFor as pollFor } from '@settings/local-stack';
import { loadInvalidatorConfig, type InvalidatorConfig } from '../../src/config';
import { startInvalidator, type RunningInvalidator } from '../../src/invalidator';

export { uniqueId } from '@settings/local-stack';

/**
 * Positions a brand-new consumer group at the current end of the change topics (or `topics`),
 * after Debezium has published everything committed so far: a test's invalidator sees exactly
 * the changes the test makes, not the topic's history nor earlier tests' in-flight cleanups.
 */
export const positionGroupAtEnd = (groupId: string, topics?: readonly string[]): Promise<void> => positionAtEnd(groupId, { topics, drainFirst: true });

/** Polls every 100 ms: what these tests wait for (evictions, group joins) takes that long anyway. */
export const waitFor = (cond: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> => pollFor(cond, timeoutMs, what, 100);

export function testConfig(overrides: Partial<Record<string, string>> = {}): InvalidatorConfig {
  return loadInvalidatorConfig({
    // The local stack's endpoints (KAFKA_BROKERS, REDIS_URL) unless an override names others.
    SETTINGS_LOCAL_STACK: '1',
    KAFKA_GROUP_ID: uniqueId('test-invalidator-'),
    HTTP_PORT: '0',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn',
    // REDIS_CLUSTER_NODES in the jest project `cluster`.
    ...testRedisEnv(),
    ...overrides,
  });
}

/** Starts an invalidator in this process with its own group positioned at the topic ends; its log lines go to `logTo` when given. */
export async function startTestInvalidator(overrides: Partial<Record<string, string>> = {}, logTo?: DestinationStream): Promise<RunningInvalidator & { config: InvalidatorConfig }> {
  const config = testConfig(overrides);
  await positionGroupAtEnd(config.KAFKA_GROUP_ID);
  const running = await startInvalidator(config, createLogger('test-invalidator', config.LOG_LEVEL, logTo));
  await waitFor(() => running.consumer.joined, 30_000, 'invalidator joined its group');
  return { ...running, config };
}

/** The test's Redis: the single one, or the cluster in the jest project `cluster`. */
export function testRedis(): CacheRedisClient {
  return createTestRedis();
}

/** Deletes a test's keys, one DEL per key: a Redis Cluster refuses a DEL across slots. */
export async function deleteKeys(redis: CacheRedisClient, keys: readonly string[]): Promise<void> {
  await Promise.all(keys.map((key) => redis.del(key)));
}

export async function readCache(redis: CacheRedisClient, key: string): Promise<CacheValue | undefined> {
  return parseCacheValue(await redis.getBuffer(key));
}

export const sql = (text: string, params: unknown[] = []) => pgQuery(localStack.database, text, params);

/** The row version of an account's settings (what its markers are fenced at). */
export async function accountSettingsVersion(account: string): Promise<bigint> {
  return BigInt((await sql('SELECT version FROM account_settings WHERE account_id = $1', [account]))[0]!.version as string);
}

/**
 * True when the cache can no longer serve anything older than `dbVersion` for `key`: the key
 * holds a marker fenced at or above it, or an entry of exactly that version.
 */
export function fencedAtLeast(value: CacheValue | undefined, dbVersion: bigint): boolean {
  if (!value) return false;
  return value.kind === 'marker' ? value.floor >= dbVersion : value.version >= dbVersion;
}

/**
 * True once every account's key is fenced at or above its row's current version (read now from
 * PostgreSQL, so a later write of a row raises the bar): every change of those rows evicted.
 */
export async function allAccountsFenced(redis: CacheRedisClient, accounts: readonly string[]): Promise<boolean> {
  const rows = await sql('SELECT account_id, version FROM account_settings WHERE account_id = ANY($1::text[])', [accounts]);
  const versions = rows.map((r) => [r.account_id as string, BigInt(r.version as string)] as const);
  return (await fencedAccounts(redis, versions)).length === accounts.length;
}

/**
 * The accounts of `versions` whose account-settings key Redis holds fenced at or above their
 * row's version (fencedAtLeast), read 1,000 keys per MGET.
 */
export async function fencedAccounts(redis: CacheRedisClient, versions: ReadonlyArray<readonly [string, bigint]>): Promise<string[]> {
  const fenced: string[] = [];
  for (let i = 0; i < versions.length; i += 1000) {
    const slice = versions.slice(i, i + 1000);
    const values = await redis.mgetBuffer(...slice.map(([account]) => cacheKeys.accountSettings(account).key));
    slice.forEach(([account, v], j) => {
      if (fencedAtLeast(parseCacheValue(values[j] ?? null), v)) fenced.push(account);
    });
  }
  return fenced;
}
