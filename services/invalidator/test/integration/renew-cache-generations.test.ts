import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import Redis from 'ioredis';
import { cacheKeys, establishGeneration, generationKey, KEY_SPACES, localRedisUrl, parseCacheValue, withCacheScripts, type KeySpace } from '@settings/shared';
import { uniqueId } from '../support/test-invalidator';

/**
 * The operator's heal after a restore or a CDC gap (docs/operations.md): one command gives every
 * key space a new generation, so no entry cached before it matches the generation readers
 * compare with (read-through.ts serves an entry only under the current one): the cache is
 * cold, never stale. Runs the compiled command as an operator would (npm test builds first).
 */
const command = join(__dirname, '../../dist/src/admin/renew-cache-generations.js');
const redis = withCacheScripts(new Redis(localRedisUrl, { maxRetriesPerRequest: 1 }));
afterAll(() => redis.quit());

it('renew-cache-generations gives every key space a new generation, orphaning every cached entry', async () => {
  const spaces = Object.keys(KEY_SPACES) as KeySpace[];
  const { key } = cacheKeys.accountSettings(uniqueId());
  const generation = await establishGeneration(redis, 'account-settings', await redis.get(generationKey('account-settings')));
  expect(await redis.versionedFill(key, '5', generation, 60_000, Buffer.from('cached before the heal'), 600_000)).toBe(1);
  const before = await Promise.all(spaces.map((s) => redis.get(generationKey(s))));

  execFileSync(process.execPath, [command], { env: { ...process.env, REDIS_URL: localRedisUrl, LOG_LEVEL: 'warn' }, stdio: 'pipe' });

  const after = await Promise.all(spaces.map((s) => redis.get(generationKey(s))));
  spaces.forEach((_, i) => {
    expect(after[i]).toMatch(/^[1-9]\d*$/);
    expect(after[i]).not.toBe(before[i]);
  });
  const entry = parseCacheValue(await redis.getBuffer(key));
  expect(entry?.kind === 'entry' && entry.generation.toString()).toBe(generation);
  expect(await redis.get(generationKey('account-settings'))).not.toBe(generation);
});
