import Redis from 'ioredis';
import { localRedisUrl, localStack } from '@settings/shared';
import { startFaultProxy, type FaultProxy } from '@settings/local-stack';
import type { RunningInvalidator } from '../../src/invalidator';
import { fencedAccounts, sql, startTestInvalidator, testRedis, uniqueId, waitFor } from '../support/test-invalidator';

/**
 * README, adaptive ceiling: its edges against the real stack, during a real drain. The replica
 * reaches Redis through a proxy that delays every reply (a slow network in between, Redis itself
 * idle) or silences the connection (every round trip fails):
 *  - slow round trips to an idle Redis do not cut the ceiling (only a busy Redis slows readers);
 *  - with INFO refused by the replica's ACL, Redis counts as busy (logged once), so latency
 *    alone decides and the same slow round trips cut it;
 *  - a failed round trip drops it to the floor (5 % of the maximum); it climbs back after.
 */
jest.setTimeout(180_000);
const N = 8000;
const MAX_KEYS_PER_SECOND = 4000;
const REPLY_DELAY_MS = 60;
const admin = new Redis(localRedisUrl, { maxRetriesPerRequest: 1 });
let proxy: FaultProxy | undefined;
let inv: RunningInvalidator | undefined;
const aclUser = uniqueId('ceiling-no-info-');
const aclPassword = uniqueId('pw-');

afterEach(async () => {
  await inv?.stop();
  inv = undefined;
  await proxy?.close();
  proxy = undefined;
});
afterAll(async () => {
  await admin.call('ACL', 'DELUSER', aclUser);
  admin.disconnect();
});

/** Starts a replica through a fresh proxy, `user` its Redis login (default: none). */
async function replica(lines: Array<Record<string, unknown>>, user?: { name: string; password: string }): Promise<RunningInvalidator> {
  proxy = await startFaultProxy(localStack.redisPort);
  const auth = user ? `${user.name}:${user.password}@` : '';
  inv = await startTestInvalidator(
    { REDIS_URL: `redis://${auth}127.0.0.1:${proxy.port}`, EVICTION_MAX_KEYS_PER_SECOND: String(MAX_KEYS_PER_SECOND), REDIS_COMMAND_TIMEOUT_MS: '500', LOG_LEVEL: 'info' },
    { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) },
  );
  return inv;
}

const ceiling = async (r: RunningInvalidator): Promise<number> => (await r.metrics.registry.getSingleMetric('invalidator_eviction_ceiling_keys_per_second')!.get()).values[0]!.value;

/**
 * UPDATEs `N` new rows and samples the ceiling every 50 ms until every key is fenced at its row
 * version (`during` runs once the first keys are evicted); the lowest ceiling seen.
 */
async function drain(r: RunningInvalidator, during: () => void): Promise<number> {
  const prefix = uniqueId('edge');
  const redis = testRedis();
  await sql(`INSERT INTO account_settings (account_id) SELECT $1 || '-' || g FROM generate_series(1, ${N}) g`, [prefix]);
  try {
    const rows = async (): Promise<Array<readonly [string, bigint]>> =>
      (await sql('SELECT account_id, version FROM account_settings WHERE account_id LIKE $1', [`${prefix}-%`])).map((row) => [row.account_id as string, BigInt(row.version as string)] as const);
    // The inserts' evictions first, at the full ceiling.
    let versions = await rows();
    await waitFor(async () => (await fencedAccounts(redis, versions)).length === N, 60_000, 'the inserts evicted');
    await sql(`UPDATE account_settings SET display_name = 'edge' WHERE account_id LIKE $1`, [`${prefix}-%`]);
    versions = await rows();
    let lowest = await ceiling(r);
    const sampler = setInterval(() => void ceiling(r).then((c) => (lowest = Math.min(lowest, c))), 50);
    try {
      await waitFor(async () => (await fencedAccounts(redis, versions.slice(0, 200))).length > 0, 60_000, 'the first evictions of the update');
      during();
      await waitFor(async () => (await fencedAccounts(redis, versions)).length === N, 120_000, 'every key of the update fenced');
    } finally {
      clearInterval(sampler);
    }
    return lowest;
  } finally {
    await sql('DELETE FROM account_settings WHERE account_id LIKE $1', [`${prefix}-%`]);
    redis.disconnect();
  }
}

it('keeps its ceiling while round trips are slow but Redis is idle (a slow network in between)', async () => {
  const r = await replica([]);
  const lowest = await drain(r, () => proxy!.delayReplies(REPLY_DELAY_MS));
  expect(lowest).toBe(MAX_KEYS_PER_SECOND);
});

it('with INFO refused by its ACL, counts Redis as busy: the same slow round trips cut the ceiling, and the refusal is logged once', async () => {
  await admin.call('ACL', 'SETUSER', aclUser, 'on', `>${aclPassword}`, '~*', '&*', '+@all', '-info');
  const lines: Array<Record<string, unknown>> = [];
  const r = await replica(lines, { name: aclUser, password: aclPassword });
  // Once cut below half, the network is fast again: the rest drains at the climbing ceiling.
  let watch: NodeJS.Timeout | undefined;
  const lowest = await drain(r, () => {
    proxy!.delayReplies(REPLY_DELAY_MS);
    watch = setInterval(() => void ceiling(r).then((c) => c < MAX_KEYS_PER_SECOND / 2 && proxy?.delayReplies(0)), 50);
  }).finally(() => clearInterval(watch));
  expect(lowest).toBeLessThan(MAX_KEYS_PER_SECOND / 2);
  expect(lines.filter((l) => /NOPERM/.test(JSON.stringify(l.err ?? '')) && l.level === 'warn')).toHaveLength(1);
});

it('drops to the floor (5 % of the maximum) when round trips fail, then climbs back to the maximum', async () => {
  const r = await replica([]);
  let silenced = false;
  const lowest = await drain(r, () => {
    silenced = proxy!.silence(() => true) > 0;
  });
  expect(silenced).toBe(true);
  expect(lowest).toBe(MAX_KEYS_PER_SECOND * 0.05);
  await waitFor(async () => (await ceiling(r)) === MAX_KEYS_PER_SECOND, 20_000, 'the ceiling back at its maximum');
});
