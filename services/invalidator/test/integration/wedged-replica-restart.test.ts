import { Redis } from 'ioredis';
import { cacheKeys, createLogger, localRedisUrl } from '@settings/shared';
import { groupCaughtUp } from '@settings/local-stack';
import { startInvalidator, type RunningInvalidator } from '../../src/invalidator';
import { accountSettingsVersion, fencedAtLeast, readCache, sql, startTestInvalidator, testConfig, testRedis, uniqueId, waitFor } from '../support/test-invalidator';

/**
 * The progress watchdog end to end (README failure modes: "consumer wedged"): a replica whose
 * Redis takes the health probe's write but refuses every eviction has lag, a healthy Redis and
 * commits nothing. Its `/healthz` must fail after LIVENESS_STALL_SECONDS, so Kubernetes restarts
 * it, and the replica that replaces it must evict everything the wedged one never committed.
 *
 * The wedge is a real one: a Redis ACL user without the scripting commands (a misconfigured
 * ACL), which lets the probe's SET through and refuses the eviction scripts with NOPERM.
 */
jest.setTimeout(120_000);
const prefix = uniqueId('wedge');
const accounts = Array.from({ length: 20 }, (_, i) => `${prefix}-${i}`);
const aclUser = uniqueId('wedged-invalidator-');
const aclPassword = uniqueId('pw-');
const admin = new Redis(localRedisUrl);
const running: RunningInvalidator[] = [];

const redisUrlAsAclUser = (): string => {
  const url = new URL(localRedisUrl);
  url.username = aclUser;
  url.password = aclPassword;
  return url.toString();
};
const healthz = async (port: number): Promise<number> => (await fetch(`http://127.0.0.1:${port}/healthz`)).status;

beforeAll(async () => {
  await admin.call('ACL', 'SETUSER', aclUser, 'on', `>${aclPassword}`, '~*', '&*', '+@all', '-@scripting');
});
afterAll(async () => {
  for (const r of running) await r.stop();
  await admin.call('ACL', 'DELUSER', aclUser);
  admin.disconnect();
  await sql('DELETE FROM account_settings WHERE account_id LIKE $1', [`${prefix}-%`]);
});

it('a replica that commits nothing while Redis is healthy fails /healthz after LIVENESS_STALL_SECONDS, and the replica that replaces it evicts every change it left', async () => {
  const overrides = { LOG_LEVEL: 'error', REDIS_URL: redisUrlAsAclUser(), LIVENESS_STALL_SECONDS: '10', PROGRESS_CHECK_INTERVAL_MS: '500' };
  const wedged = await startTestInvalidator(overrides);
  running.push(wedged);
  expect(await healthz(wedged.httpPort)).toBe(200);

  const changedAt = Date.now();
  await sql('INSERT INTO account_settings (account_id) SELECT unnest($1::text[])', [accounts]);
  await waitFor(async () => (await healthz(wedged.httpPort)) === 503, 60_000, '/healthz 503 on the wedged replica');
  // Not before the stall: lag appeared only after the insert committed. The watchdog's clock
  // starts at the start of its last check that saw no lag, which may have begun up to a check
  // interval (500 ms) plus that check's own time before the insert.
  expect(Date.now() - changedAt).toBeGreaterThanOrEqual(10_000 - 1_500);
  // Wedged, not paused for a Redis outage: the probe's write succeeds, the evictions do not.
  expect(wedged.redisHealth.healthy).toBe(true);
  expect(await wedged.metrics.registry.getSingleMetricAsString('invalidator_redis_errors_total')).not.toMatch(/invalidator_redis_errors_total 0$/m);
  expect(await groupCaughtUp(wedged.config.KAFKA_GROUP_ID)).toBe(false);

  // Kubernetes restarts the container; meanwhile the ACL is mended. The new replica joins the
  // same group at its committed offsets, before the insert: the changes are delivered again.
  await wedged.stop();
  running.pop();
  await admin.call('ACL', 'SETUSER', aclUser, '+@scripting');
  const config = testConfig({ ...overrides, KAFKA_GROUP_ID: wedged.config.KAFKA_GROUP_ID });
  const replacement = await startInvalidator(config, createLogger('test-invalidator', config.LOG_LEVEL));
  running.push(replacement);

  const redis = testRedis();
  try {
    const versions = new Map(await Promise.all(accounts.map(async (a) => [a, await accountSettingsVersion(a)] as const)));
    await waitFor(async () => {
      for (const a of accounts) if (!fencedAtLeast(await readCache(redis, cacheKeys.accountSettings(a).key), versions.get(a)!)) return false;
      return true;
    }, 60_000, 'every inserted account fenced by the replacement');
    await waitFor(() => groupCaughtUp(config.KAFKA_GROUP_ID), 30_000, 'offsets committed to the end');
    expect(await healthz(replacement.httpPort)).toBe(200);
  } finally {
    redis.disconnect();
  }
});
