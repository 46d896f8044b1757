import Redis from 'ioredis';
import { cacheKeys, localRedisUrl, withCacheScripts } from '@settings/shared';
import { testRedisTopology } from '@settings/local-stack';
import { fencedAtLeast, readCache, sql, startTestInvalidator, testRedis, uniqueId, waitFor } from '../support/test-invalidator';
import type { RunningInvalidator } from '../../src/invalidator';

/**
 * Plain SQL (a person in psql, a migration) → Debezium → Kafka → invalidator → Redis marker,
 * with no settings service involved: the cache follows every committed change.
 */
let inv: RunningInvalidator;
const redis = testRedis();
const scripts = withCacheScripts(testRedis());

beforeAll(async () => {
  inv = await startTestInvalidator();
});
afterAll(async () => {
  await inv.stop();
  redis.disconnect();
  scripts.disconnect();
});

async function version(table: string, where: string, params: unknown[]): Promise<bigint> {
  const rows = await sql(`SELECT version FROM ${table} WHERE ${where}`, params);
  return BigInt(rows[0]!.version as string);
}

describe('invalidator against the real stack', () => {
  it('an UPDATE in psql replaces the cached entry by a marker at the new version within 15 s (the lag is logged)', async () => {
    const account = uniqueId();
    await sql('INSERT INTO account_settings (account_id, display_name) VALUES ($1, $2)', [account, 'Old name']);
    const v1 = await version('account_settings', 'account_id = $1', [account]);
    const { key } = cacheKeys.accountSettings(account);
    // A reader cached version v1 (after the insert's own eviction may already have landed).
    await waitFor(async () => fencedAtLeast(await readCache(redis, key), v1), 15_000, 'insert eviction');
    expect(await scripts.versionedFill(key, v1.toString(), '0', 60_000, Buffer.from('Old name'), 600_000)).toBe(1);

    const t0 = Date.now();
    await sql('UPDATE account_settings SET display_name = $2 WHERE account_id = $1', [account, 'New name']);
    const v2 = await version('account_settings', 'account_id = $1', [account]);
    await waitFor(async () => (await readCache(redis, key))?.kind === 'marker', 15_000, 'marker after update');
    const lagMs = Date.now() - t0;
    expect(await readCache(redis, key)).toEqual({ kind: 'marker', floor: v2 });
    // The old value can no longer be filled back; the new one can.
    expect(await scripts.versionedFill(key, v1.toString(), '0', 60_000, Buffer.from('Old name'), 600_000)).toBe(0);
    expect(await scripts.versionedFill(key, v2.toString(), '0', 60_000, Buffer.from('New name'), 600_000)).toBe(1);
    process.stderr.write(`[measure] psql UPDATE → marker in Redis: ${lagMs} ms\n`);
  });

  it('a DELETE fences the key one above the deleted version', async () => {
    const account = uniqueId();
    await sql('INSERT INTO onpatient_settings (account_id) VALUES ($1)', [account]);
    const v = await version('onpatient_settings', 'account_id = $1', [account]);
    await sql('DELETE FROM onpatient_settings WHERE account_id = $1', [account]);
    const { key } = cacheKeys.onPatientSettings(account);
    await waitFor(async () => (await readCache(redis, key))?.kind === 'marker' && fencedAtLeast(await readCache(redis, key), v + 1n), 15_000, 'delete marker');
    expect(await scripts.versionedFill(key, v.toString(), '0', 60_000, Buffer.from('deleted row'), 600_000)).toBe(0);
  });

  it('a doctor settings change evicts exactly that doctor, not the account or other doctors', async () => {
    const account = uniqueId();
    await sql('INSERT INTO account_settings (account_id) VALUES ($1)', [account]);
    await sql("INSERT INTO doctor_settings (account_id, doctor_id) VALUES ($1, 'dr-a'), ($1, 'dr-b')", [account]);
    const acct = cacheKeys.accountSettings(account).key;
    const drB = cacheKeys.doctorSettings(account, 'dr-b').key;
    await waitFor(async () => (await readCache(redis, drB)) !== undefined, 15_000, 'insert markers');
    // Cache fresh entries for the account and doctor b at their current versions.
    const va = await version('account_settings', 'account_id = $1', [account]);
    const vb = await version('doctor_settings', 'account_id = $1 AND doctor_id = $2', [account, 'dr-b']);
    await scripts.versionedFill(acct, va.toString(), '0', 60_000, Buffer.from('acct'), 600_000);
    await scripts.versionedFill(drB, vb.toString(), '0', 60_000, Buffer.from('b'), 600_000);
    await sql("UPDATE doctor_settings SET display_name = 'Dr A' WHERE account_id = $1 AND doctor_id = 'dr-a'", [account]);
    const drA = cacheKeys.doctorSettings(account, 'dr-a').key;
    const vaNew = await version('doctor_settings', 'account_id = $1 AND doctor_id = $2', [account, 'dr-a']);
    await waitFor(async () => fencedAtLeast(await readCache(redis, drA), vaNew), 15_000, 'dr-a marker');
    expect((await readCache(redis, acct))?.kind).toBe('entry');
    expect((await readCache(redis, drB))?.kind).toBe('entry');
  });

  it('a TRUNCATE of staff_permissions gives both key spaces it feeds (staff-permission and staff-permission-list) a new generation', async () => {
    const before = await redis.get('v1:{gen:staff-permission}');
    const listBefore = await redis.get('v1:{gen:staff-permission-list}');
    // Truncating a shared table is safe here: test files run one at a time and each writes its
    // own account ids.
    await sql('TRUNCATE staff_permissions');
    await waitFor(async () => {
      const now = await redis.get('v1:{gen:staff-permission}');
      return now !== null && now !== before;
    }, 15_000, 'new generation');
    const list = await redis.get('v1:{gen:staff-permission-list}');
    expect(list).not.toBeNull();
    expect(list).not.toBe(listBefore);
  });

  // README, Guarantees ("exact keys"): what Redis itself saw while one row change was applied.
  // MONITOR is per server, so this runs on the single Redis only (the cluster project skips it).
  (testRedisTopology() === 'single' ? it : it.skip)('applies a change by writing only the changed row\'s key, never with KEYS, SCAN, FLUSH or a delete (Redis MONITOR)', async () => {
    const account = uniqueId();
    await sql('INSERT INTO account_settings (account_id) VALUES ($1)', [account]);
    await sql("INSERT INTO doctor_settings (account_id, doctor_id) VALUES ($1, 'dr-a'), ($1, 'dr-b')", [account]);
    const keys = [cacheKeys.accountSettings(account).key, cacheKeys.doctorSettings(account, 'dr-a').key, cacheKeys.doctorSettings(account, 'dr-b').key];
    const drA = keys[1]!;
    for (const key of keys) await waitFor(async () => (await readCache(redis, key)) !== undefined, 15_000, `insert marker of ${key}`);

    // A MONITOR connection of its own, with a listener for the whole of its life: lines that
    // arrive in the same read as MONITOR's own reply reach ioredis before it switches to
    // monitoring, and each is reported as an 'error' ("Command queue state error"). Through
    // redis.monitor() the first one rejected the call before the test could close the
    // connection, and the leaked connection, re-entering MONITOR on every reconnect, threw the
    // same error into later test files (after a Redis restart). Those lines predate the change.
    const monitor = new Redis(localRedisUrl, { monitor: true, maxRetriesPerRequest: 1 });
    monitor.on('error', () => undefined);
    await new Promise<void>((resolve) => monitor.once('monitoring', () => resolve()));
    const seen: Array<{ command: string; args: string[]; source: string }> = [];
    monitor.on('monitor', (_time: string, args: string[], source: string) => seen.push({ command: String(args[0]).toUpperCase(), args: args.slice(1).map(String), source }));
    try {
      await sql("UPDATE doctor_settings SET display_name = 'Dr A' WHERE account_id = $1 AND doctor_id = 'dr-a'", [account]);
      const v = await version('doctor_settings', 'account_id = $1 AND doctor_id = $2', [account, 'dr-a']);
      await waitFor(async () => fencedAtLeast(await readCache(redis, drA), v), 15_000, 'dr-a marker');
      // MONITOR streams what Redis ran; give the last lines time to arrive.
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      monitor.disconnect();
    }
    // Nothing, from any client, enumerated or flushed the key space or deleted a key.
    expect(seen.filter((c) => ['KEYS', 'SCAN', 'FLUSHALL', 'FLUSHDB', 'DEL', 'UNLINK'].includes(c.command))).toEqual([]);
    // The eviction ran inside a script (the fenced compare-and-set), and of this account's keys it wrote dr-a's alone.
    const writesOfAccount = seen.filter((c) => c.source === 'lua' && c.command === 'SET' && c.args[0]!.includes(account));
    expect(writesOfAccount.map((c) => c.args[0])).toEqual([drA]);
    // Outside scripts, this account's keys were named only by the script call (and this test's reads).
    const calls = seen.filter((c) => c.source !== 'lua' && c.args.some((a) => a.includes(account)) && !['GET', 'MGET'].includes(c.command));
    expect(calls.map((c) => c.command)).toEqual(['EVALSHA']);
    const [, numKeys, ...rest] = calls[0]!.args;
    expect(rest.slice(0, Number(numKeys)).filter((k) => k.includes(account))).toEqual([drA]);
  });

  it('exports metrics: events consumed, keys evicted, end-to-end lag', async () => {
    const text = await inv.metrics.registry.metrics();
    expect(text).toMatch(/invalidator_events_consumed_total\{table="account_settings",op="u"\} [1-9]/);
    expect(text).toMatch(/invalidator_keys_evicted_total [1-9]/);
    expect(text).toMatch(/invalidator_end_to_end_lag_seconds_count [1-9]/);
  });
});
