import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { CACHED_TABLES, changeTopic, createLogger, localRedisUrl, localStack, parseCacheValue, type CacheValue } from '@settings/shared';
import { ChangeTopicReader, ensureChangeTopics, pgQuery, positionGroupAtEnd as positionAtEnd } from '@settings/local-stack';
import { loadInvalidatorConfig, type InvalidatorConfig } from '../../src/config';
import { startInvalidator, type RunningInvalidator } from '../../src/invalidator';

export const uniqueId = (prefix = 't'): string => `${prefix}${randomBytes(6).toString('hex')}`;

export const changeTopics = CACHED_TABLES.map((t) => changeTopic(localStack.topicPrefix, t));

/**
 * Waits until Debezium has published everything committed so far, by writing a sentinel
 * heartbeat row and waiting for its change event. Earlier tests' bulk writes and cleanups
 * can still be in flight; without this a test's new consumer would start in the middle of them.
 */
export async function drainDebezium(): Promise<void> {
  const reader = new ChangeTopicReader(changeTopic(localStack.topicPrefix, 'debezium_heartbeat'));
  await reader.start();
  try {
    // Id 1 is Debezium's own heartbeat row; any other id is ours.
    const sentinel = 2 + Math.floor(Math.random() * 2_000_000_000);
    await sql('INSERT INTO debezium_heartbeat (id, ts) VALUES ($1, now())', [sentinel]);
    await reader.waitFor((v) => (v as { after?: { id?: number } } | null)?.after?.id === sentinel, 180_000);
    await sql('DELETE FROM debezium_heartbeat WHERE id = $1', [sentinel]);
  } finally {
    await reader.stop();
  }
}

/**
 * Positions a brand-new consumer group at the current end of every change topic, so a test's
 * invalidator sees exactly the changes the test makes (not the topic's history) and none of
 * them can slip past before it joins.
 */
export async function positionGroupAtEnd(groupId: string, topics = changeTopics): Promise<void> {
  await drainDebezium();
  // Topics the stack has not created yet (e.g. the DLQ) are created the way `up` creates them.
  await ensureChangeTopics(topics, 3);
  await positionAtEnd(groupId, topics);
}

export function testConfig(overrides: Partial<Record<string, string>> = {}): InvalidatorConfig {
  return loadInvalidatorConfig({
    // The local stack's endpoints (KAFKA_BROKERS, REDIS_URL) unless an override names others.
    SETTINGS_LOCAL_STACK: '1',
    KAFKA_GROUP_ID: uniqueId('test-invalidator-'),
    HTTP_PORT: '0',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn',
    ...overrides,
  });
}

/** Starts an invalidator in this process with its own group positioned at the topic ends. */
export async function startTestInvalidator(overrides: Partial<Record<string, string>> = {}): Promise<RunningInvalidator & { config: InvalidatorConfig }> {
  const config = testConfig(overrides);
  await positionGroupAtEnd(config.KAFKA_GROUP_ID);
  const running = await startInvalidator(config, createLogger('test-invalidator', config.LOG_LEVEL));
  await waitFor(() => running.consumer.joined, 30_000, 'invalidator joined its group');
  return { ...running, config };
}

export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export function testRedis(): Redis {
  return new Redis(localRedisUrl, { maxRetriesPerRequest: 1 });
}

export async function readCache(redis: Redis, key: string): Promise<CacheValue | undefined> {
  return parseCacheValue(await redis.getBuffer(key));
}

export const sql = (text: string, params: unknown[] = []) => pgQuery(localStack.database, text, params);

/**
 * True when the cache can no longer serve anything older than `dbVersion` for `key`: the key
 * holds a marker fenced at or above it, or an entry of exactly that version.
 */
export function fencedAtLeast(value: CacheValue | undefined, dbVersion: bigint): boolean {
  if (!value) return false;
  return value.kind === 'marker' ? value.floor >= dbVersion : value.version >= dbVersion;
}
