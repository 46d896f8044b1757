import { cacheKeys, localStack } from '@settings/shared';
import { startSilencingProxy, type SilencingProxy } from '@settings/local-stack';
import type { RunningInvalidator } from '../../src/invalidator';
import { accountSettingsVersion, fencedAtLeast, readCache, sql, startTestInvalidator, testRedis, uniqueId, waitFor } from '../support/test-invalidator';

/**
 * The invalidator's Redis connection goes silent: no byte either way and nothing closed (a NAT,
 * a firewall or a load balancer that dropped the flow; Redis failed over behind a virtual IP).
 * Every command times out and the operating system notices nothing for hours (TCP keepalive
 * starts after 2 h by default), so the client never reconnects by itself: evictions paused for
 * good, with liveness green (an unhealthy Redis is not a wedged consumer). The replica reaches
 * the real Redis through a proxy that can silence its connection; a new connection passes.
 */
jest.setTimeout(90_000);
const COMMAND_TIMEOUT_MS = 300;
let proxy: SilencingProxy | undefined;
let inv: RunningInvalidator | undefined;
const account = uniqueId('silent');

beforeAll(async () => {
  proxy = await startSilencingProxy(localStack.redisPort);
  inv = await startTestInvalidator({ REDIS_URL: `redis://127.0.0.1:${proxy.port}`, REDIS_COMMAND_TIMEOUT_MS: String(COMMAND_TIMEOUT_MS) });
  await sql('INSERT INTO account_settings (account_id) VALUES ($1)', [account]);
});
afterAll(async () => {
  await inv?.stop();
  await proxy?.close();
  await sql('DELETE FROM account_settings WHERE account_id = $1', [account]);
});

it('a Redis connection gone silent is replaced within seconds: the evictions it held are applied, the consumer resumes', async () => {
  const redis = testRedis();
  const key = cacheKeys.accountSettings(account).key;
  try {
    await waitFor(async () => fencedAtLeast(await readCache(redis, key), await accountSettingsVersion(account)), 30_000, 'the insert evicted');
    expect(proxy!.silence(() => true)).toBeGreaterThanOrEqual(1);
    await sql("UPDATE account_settings SET display_name = 'after the silence' WHERE account_id = $1", [account]);
    const version = await accountSettingsVersion(account);
    const since = Date.now();
    await waitFor(async () => fencedAtLeast(await readCache(redis, key), version), 30_000, 'the change evicted through a new connection');
    process.stderr.write(`[measure] silenced → evicted: ${Date.now() - since} ms\n`);
    await waitFor(() => !inv!.consumer.paused, 10_000, 'the consumer resumed');
  } finally {
    redis.disconnect();
  }
});
