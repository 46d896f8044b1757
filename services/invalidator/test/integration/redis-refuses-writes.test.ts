import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { cacheKeys, parseCacheValue } from '@settings/shared';
import { freePort } from '@settings/local-stack';
import { accountSettingsVersion, fencedAtLeast, sql, startTestInvalidator, uniqueId, waitFor } from '../support/test-invalidator';
import type { RunningInvalidator } from '../../src/invalidator';

/**
 * README, failure modes: "Redis up but refusing writes (OOM under `noeviction`)": the health
 * probe is a write, so Redis counts as unhealthy: consumption paused, the process alive, nothing
 * committed past the refused evictions; once Redis takes writes again, every eviction lands. A
 * Redis server of its own (full on demand: CONFIG SET maxmemory below what it uses), not the
 * stack's, which other tests share.
 */
jest.setTimeout(120_000);

const dir = mkdtempSync(join(tmpdir(), 'redis-oom-'));
const account = uniqueId('oom-');
let server: ChildProcess | undefined;
let admin: Redis | undefined;
let inv: RunningInvalidator | undefined;

beforeAll(async () => {
  const port = await freePort();
  server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--maxmemory-policy', 'noeviction'], { stdio: 'ignore' });
  admin = new Redis({ port, maxRetriesPerRequest: 1 });
  await waitFor(async () => (await admin!.ping().catch(() => '')) === 'PONG', 10_000, 'the test Redis');
  inv = await startTestInvalidator({ REDIS_URL: `redis://127.0.0.1:${port}`, REDIS_CLUSTER_NODES: '', REDIS_PROBE_INTERVAL_MS: '200' });
});
afterAll(async () => {
  await inv?.stop();
  await sql('DELETE FROM account_settings WHERE account_id = $1', [account]);
  admin?.disconnect();
  server?.kill();
  rmSync(dir, { recursive: true, force: true });
});

it('a Redis refusing writes (OOM under noeviction) pauses consumption with the process alive; every eviction lands once it takes writes again', async () => {
  const key = cacheKeys.accountSettings(account).key;
  const fenced = async (version: bigint): Promise<boolean> => fencedAtLeast(parseCacheValue(await admin!.getBuffer(key)), version);
  await sql('INSERT INTO account_settings (account_id) VALUES ($1)', [account]);
  const created = await accountSettingsVersion(account);
  await waitFor(() => fenced(created), 30_000, 'the insert evicted');

  // Full: every write is refused OOM from now on.
  await admin!.config('SET', 'maxmemory', '1');
  await sql("UPDATE account_settings SET display_name = 'while full' WHERE account_id = $1", [account]);
  const updated = await accountSettingsVersion(account);
  await waitFor(async () => (await inv!.metrics.registry.getSingleMetricAsString('invalidator_consumer_paused')).includes('invalidator_consumer_paused 1'), 30_000, 'consumer paused');
  expect(inv!.consumer.state).toBe('running');
  expect(inv!.watchdog.live).toBe(true);
  expect((await fetch(`http://127.0.0.1:${inv!.httpPort}/healthz`)).status).toBe(200);
  expect(await fenced(updated)).toBe(false);

  await admin!.config('SET', 'maxmemory', '0');
  await waitFor(() => fenced(updated), 30_000, 'the update evicted once Redis takes writes');
  await waitFor(async () => (await inv!.metrics.registry.getSingleMetricAsString('invalidator_consumer_paused')).includes('invalidator_consumer_paused 0'), 10_000, 'consumer resumed');
});
