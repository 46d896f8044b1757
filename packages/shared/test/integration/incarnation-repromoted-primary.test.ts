import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { checkRedisIncarnation, generationKey, redisReplicationIdKey } from '../../src';

/**
 * A primary cut off by a failover, made a replica of the new primary and promoted again before it
 * synced (the new one lost meanwhile), serves the data it had — without the markers written to
 * the other — under the same `run_id`. Its replication id changes with every promotion: the
 * incarnation check must renew the generations. A Redis server of its own, not the stack's:
 * made a replica of a port where nothing listens, so it keeps its data.
 */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

let server: ChildProcess | undefined;
let redis: Redis | undefined;
const dir = mkdtempSync(join(tmpdir(), 'redis-repromoted-'));

beforeAll(async () => {
  const port = await freePort();
  server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
  redis = new Redis({ port, maxRetriesPerRequest: 1 });
  const deadline = Date.now() + 10_000;
  while ((await redis.ping().catch(() => '')) !== 'PONG') {
    if (Date.now() > deadline) throw new Error('the test Redis did not start');
    await new Promise((r) => setTimeout(r, 50));
  }
});
afterAll(() => {
  redis?.disconnect();
  server?.kill();
  rmSync(dir, { recursive: true, force: true });
});

it('renews every generation when the primary was demoted and promoted again with its old data (same run_id, new replication id)', async () => {
  const r = redis!;
  expect((await checkRedisIncarnation(r)).renewed).toBe(true);
  expect((await checkRedisIncarnation(r)).renewed).toBe(false);
  const generation = await r.get(generationKey('account-settings'));

  // Demoted (a replica of a primary it never reaches, so it keeps its data), then promoted again.
  const nowhere = await freePort();
  await r.call('REPLICAOF', '127.0.0.1', String(nowhere));
  await r.call('REPLICAOF', 'NO', 'ONE');

  const check = await checkRedisIncarnation(r);
  expect(check.renewed).toBe(true);
  expect(await r.get(generationKey('account-settings'))).not.toBe(generation);
  expect((await checkRedisIncarnation(r)).renewed).toBe(false);
});

it('records the replication id without renewing when only the run id was recorded (generations of a release before it)', async () => {
  const r = redis!;
  await checkRedisIncarnation(r);
  const generation = await r.get(generationKey('account-settings'));
  await r.del(redisReplicationIdKey());
  expect((await checkRedisIncarnation(r)).renewed).toBe(false);
  expect(await r.get(generationKey('account-settings'))).toBe(generation);
  expect(await r.get(redisReplicationIdKey())).toMatch(/^[0-9a-f]{40}$/);
});
