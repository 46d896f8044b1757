import type Redis from 'ioredis';
import { checkRedisIncarnation, generationKey, redisReplicationIdKey } from '../../src';
import { freePort, startOwnRedisServer, type OwnRedisServer } from '../support/own-redis-server';

/**
 * A primary cut off by a failover, made a replica of the new primary and promoted again before it
 * synced (the new one lost meanwhile), serves the data it had — without the markers written to
 * the other — under the same `run_id`. Its replication id changes with every promotion: the
 * incarnation check must renew the generations. A Redis server of its own, not the stack's:
 * made a replica of a port where nothing listens, so it keeps its data.
 */
let own: OwnRedisServer | undefined;
let redis: Redis | undefined;

beforeAll(async () => {
  own = await startOwnRedisServer('repromoted');
  redis = own.admin;
});
afterAll(() => own?.stop());

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
