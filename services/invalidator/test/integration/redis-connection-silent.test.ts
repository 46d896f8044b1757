import Redis from 'ioredis';
import { AUDIT_STREAM_MAX_LEN, auditSamplesKey, cacheKeys, encodeAuditSample, localRedisUrl, localStack } from '@settings/shared';
import { startFaultProxy, type FaultProxy } from '@settings/local-stack';
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
let proxy: FaultProxy | undefined;
let inv: RunningInvalidator | undefined;
const account = uniqueId('silent');

beforeAll(async () => {
  proxy = await startFaultProxy(localStack.redisPort);
  // Samples wait a minute before they are audited: the second test counts the ones held.
  inv = await startTestInvalidator({ REDIS_URL: `redis://127.0.0.1:${proxy.port}`, REDIS_COMMAND_TIMEOUT_MS: String(COMMAND_TIMEOUT_MS), AUDIT_SLO_MS: '60000' });
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
    // Its eviction times out on the silent connection (before the probe replaces it): paused.
    await waitFor(() => inv!.consumer.paused, 15_000, 'the consumer paused');
    await waitFor(async () => fencedAtLeast(await readCache(redis, key), version), 30_000, 'the change evicted through a new connection');
    process.stderr.write(`[measure] silenced → evicted: ${Date.now() - since} ms\n`);
    await waitFor(() => !inv!.consumer.paused, 10_000, 'the consumer resumed');
    expect((await inv!.metrics.redisSilentResets.get()).values.find((v) => v.labels.connection === 'evictions')?.value).toBeGreaterThanOrEqual(1);
  } finally {
    redis.disconnect();
  }
});

it("the staleness auditor's stream connection gone silent is replaced: samples published after it are read again", async () => {
  const auditor = inv!.auditor!;
  const publisher = new Redis(localRedisUrl, { maxRetriesPerRequest: 1 });
  const publish = (): Promise<unknown> =>
    publisher.xadd(auditSamplesKey(), 'MAXLEN', '~', String(AUDIT_STREAM_MAX_LEN), '*', ...encodeAuditSample({ key: cacheKeys.accountSettings(account).key, space: 'account-settings', version: 1n, servedAt: Date.now(), payloadFormat: 0 }));
  try {
    await waitFor(async () => {
      await publish();
      return auditor.heldSamples > 0;
    }, 20_000, 'the auditor reading samples');
    // Only the auditor's connection (the one that blocks in XREADGROUP) goes silent.
    expect(proxy!.silence((sent) => sent.includes('XREADGROUP'))).toBe(1);
    // A read whose reply was already on its way may still land.
    await new Promise((r) => setTimeout(r, 1500));
    const held = auditor.heldSamples;
    await waitFor(async () => {
      await publish();
      return auditor.heldSamples > held;
    }, 30_000, 'samples read again through a new connection');
  } finally {
    publisher.disconnect();
  }
});
