import type Redis from 'ioredis';
import { createCacheRedis, localStack, type CacheRedis } from '../../src';
import { startOwnRedisServer, type OwnRedisServer } from '../support/own-redis-server';

/**
 * A Redis demoted to a replica under an open connection (Redis' FAILOVER, a managed endpoint, a
 * Service whose open connections still reach the old pod) refuses every write READONLY. The cache
 * client must drop that connection, so that reconnecting resolves the address to the new primary:
 * kept, the invalidator's evictions and health probe failed READONLY for good and its consumer
 * stayed paused. A Redis server of its own (made a replica of the stack's Redis), not the stack's.
 */
async function until(cond: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

let own: OwnRedisServer | undefined;
let port = 0;
let client: CacheRedis | undefined;
let admin: Redis | undefined;

beforeAll(async () => {
  own = await startOwnRedisServer('readonly');
  ({ port, admin } = own);
});
afterAll(() => {
  client?.disconnect();
  own?.stop();
});

it('drops a connection whose server refuses a write READONLY (demoted), so it reconnects to whatever the address is now', async () => {
  client = createCacheRedis(`redis://127.0.0.1:${port}`, { commandTimeoutMs: 2000, autoPipelining: false, lazyConnect: true });
  await client.connect();
  await client.set('probe', '1');
  let closes = 0;
  client.on('close', () => (closes += 1));
  // Demoted under the open connection: a replica of the stack's Redis from now on.
  await admin!.call('REPLICAOF', '127.0.0.1', String(localStack.redisPort));
  await expect(client.set('probe', '2')).rejects.toThrow(/READONLY/);
  await until(() => closes > 0, 5000, 'the demoted connection dropped');
  await admin!.call('REPLICAOF', 'NO', 'ONE');
});
