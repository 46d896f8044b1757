import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { connectorFile, dropReplicationSlot, stopConnector } from '@settings/local-stack';
import { localStack } from '@settings/shared';
import { cacheKeyOf, countEntries, generations, openCache, readRow, readValue, spaceOf, currentGeneration, waitEntry, waitUntil } from './cache-peek';
import { waitSlotInactive } from './cdc-gap-scenarios';
import { cacheEntryHits } from './cache-in-use';
import { startConnectAgain } from './faults';
import { AUDIT_SLO_MS } from './fleet';
import { seedRows, updateRow, type SettingsKey } from './keys';
import type { HarnessDb } from './db';
import { metricSum } from './metrics-scrape';
import { sampleDistinct } from './prng';
import { servicesRoot } from './paths';
import type { Scenario } from './scenario-context';

/**
 * Stale entries nothing in the change stream will evict: one planted straight into Redis (the
 * staleness auditor must find and fence it, without emptying the cache), and rows whose
 * versions went backwards as after a restore (the runbook's generation renewal must heal it,
 * which does empty the cache, by design).
 */
const PLANTED = 5;
const REWOUND = 5;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Rows for reserved targets that churn left without one (never seeded, or deleted): these
 * scenarios are about entries of rows. After a pause for a write already under way.
 */
async function targetsHaveRows(db: HarnessDb, targets: readonly SettingsKey[]): Promise<void> {
  await sleep(200);
  await seedRows(db, targets);
}
const secs = (ms: number): string => (ms / 1000).toFixed(1);

export const plantedStaleEntry: Scenario = {
  name: 'planted-stale-entry',
  auditor: true,
  behaviour: 'a stale entry planted straight into Redis is found and fenced by the staleness auditor, and every key converges without emptying the cache',
  fault: `for ${PLANTED} cached keys: update the row, and once its eviction landed put the previous entry back under the current generation (versionedFill of the old version and payload), then read it once`,
  async inject({ fleet, keys, db, caller, workload, redisUrl, rng, sizes, log, note }) {
    const redis = await openCache(redisUrl);
    const targets = sampleDistinct(rng, keys, PLANTED);
    // Writers leave the targets alone (readers do not): a workload write would evict the planted
    // entry by normal invalidation before the auditor had a chance to.
    workload.reserve(targets);
    await targetsHaveRows(db, targets);
    try {
      const gens = await generations(redis);
      const restarts0 = fleet.supervisorRestarts;
      const counted0 = await fleet.invalidatorMetricSum('invalidator_audit_inconsistent_total');
      const checked0 = await fleet.invalidatorMetricSum('invalidator_audit_checked_total');
      const queries0 = await fleet.invalidatorMetricSum('invalidator_audit_db_queries_total');
      const tAudit = Date.now();
      const planted: Array<{ key: SettingsKey; oldVersion: bigint; rowVersion: bigint; servedAt: number; servedStale: boolean }> = [];
      for (const [i, key] of targets.entries()) {
        const old = await waitEntry(redis, caller, key, sizes.callDeadlineMs);
        if (!old) {
          note(`${key.name} was never cached: not planted`);
          continue;
        }
        await updateRow(db, key, `planted-newer-${i}`);
        const row = await readRow(db, key);
        // The update's normal eviction lands first (a marker, or already a newer fill).
        await waitUntil(async () => {
          const v = await readValue(redis, key);
          return !(v?.kind === 'entry' && v.version === old.version);
        }, 20_000);
        // The plant: the old entry back under the current generation, as if the eviction had been
        // lost; then read until it is served stale (sampled: the service samples every hit here).
        // Planted again when it is gone before that: a change event delivered again (at least
        // once, e.g. a batch abandoned in the fleet's start-up rebalance) evicts it rightly, and a
        // replica's near-cache may serve a reader's fresh fill until Redis' push about the plant
        // arrives (settings README, non-guarantee 17). A served fresh entry is no inconsistency.
        let filled = 0;
        let servedStale = false;
        for (let round = 0; round < 5 && !servedStale; round++) {
          filled = 0;
          for (let attempt = 0; attempt < 10 && filled !== 1; attempt++) {
            const generation = await currentGeneration(redis, spaceOf(key));
            await redis.del(cacheKeyOf(key));
            filled = await redis.versionedFill(cacheKeyOf(key), old.version.toString(), generation ?? '0', 300_000, old.payload, 600_000);
          }
          if (filled !== 1) break;
          for (let read = 0; read < 10 && !servedStale; read++) {
            if (read > 0) await sleep(50);
            const served = await caller.get(key, 'default', sizes.callDeadlineMs);
            servedStale = served.ok && served.value.version === old.version.toString();
          }
        }
        if (filled !== 1 || !row) {
          note(`${key.name}: the plant did not take (a reader's fill won ten times)`);
          continue;
        }
        planted.push({ key, oldVersion: old.version, rowVersion: row.version, servedAt: Date.now(), servedStale });
      }
      log(`planted ${planted.length} stale entries; waiting for the auditor`);
      const caughtAfter = planted.map(() => -1);
      const timeoutMs = 4 * AUDIT_SLO_MS + 15_000;
      await waitUntil(async () => {
        for (const [i, p] of planted.entries()) {
          if (caughtAfter[i]! >= 0) continue;
          const v = await readValue(redis, p.key);
          // Only the auditor removes it: the writers leave the key alone and a hit does not refill.
          if (!(v?.kind === 'entry' && v.version === p.oldVersion)) caughtAfter[i] = Date.now() - p.servedAt;
        }
        return caughtAfter.every((ms) => ms >= 0);
      }, timeoutMs, 50);
      // Counters are read once more after the last fence (the replica increments before it answers).
      await sleep(500);
      const counted = (await fleet.invalidatorMetricSum('invalidator_audit_inconsistent_total')) - counted0;
      const checked = (await fleet.invalidatorMetricSum('invalidator_audit_checked_total')) - checked0;
      const queries = (await fleet.invalidatorMetricSum('invalidator_audit_db_queries_total')) - queries0;
      const auditS = (Date.now() - tAudit) / 1000;
      const healed = caughtAfter.filter((ms) => ms >= 0);
      // The auditor decides a sample at least two SLOs after it was served (T1 = served + SLO,
      // re-read at T2 = T1 + SLO; servedAt is taken just after the first stale read returned).
      // A plant gone sooner was removed by something else — a change event delivered again
      // evicts it rightly — and the auditor then finds nothing to count (seen in CI: 4 of 5).
      const earliestFenceMs = 2 * AUDIT_SLO_MS - 250;
      const removedByOthers = caughtAfter.filter((ms) => ms >= 0 && ms < earliestFenceMs).length;
      const leftToAuditor = planted.length - removedByOthers;
      const gensAfter = await generations(redis);
      note(
        `planted ${planted.length}/${targets.length} stale entries (served stale ${planted.filter((p) => p.servedStale).length}); ` +
          `auditor counted ${counted} inconsistent (invalidator_audit_inconsistent_total over the replicas); planted entries gone ${healed.length}/${planted.length}, ` +
          `served → fenced max ${healed.length ? secs(Math.max(...healed)) : '-'} s (AUDIT_SLO_MS ${AUDIT_SLO_MS}); ` +
          `${removedByOthers} gone before the auditor could fence them (evicted again by a redelivered change); ` +
          `audit: ${checked} samples checked, ${queries} queries in ${auditS.toFixed(1)} s (${(queries / auditS).toFixed(1)}/s); generations ${gens === gensAfter ? 'unchanged (cache not emptied)' : `RENEWED ${gens} → ${gensAfter}`}`,
      );
      // The verdict: every planted entry found, counted and fenced, and the cache not emptied to do it.
      if (fleet.supervisorRestarts !== restarts0) throw new Error('the supervisor restarted a service while the auditor was being measured: its counters started again at 0');
      if (planted.length < PLANTED) throw new Error(`only ${planted.length} of ${PLANTED} stale entries could be planted: the scenario proves less than it says`);
      if (healed.length < planted.length) throw new Error(`${planted.length - healed.length} planted stale entries were still cached ${timeoutMs / 1000} s after they were served`);
      if (planted.some((p) => !p.servedStale)) throw new Error(`${planted.filter((p) => !p.servedStale).length} planted entries were never served stale in five plants: the service kept serving what Redis no longer held`);
      if (leftToAuditor < 1) throw new Error(`every planted entry was evicted by something else before the auditor could fence it: the scenario proved nothing about the auditor`);
      if (counted < leftToAuditor) throw new Error(`${leftToAuditor} planted entries were left to the auditor (${healed.length} gone in all) but it counted ${counted} inconsistencies`);
      if (gens !== gensAfter) throw new Error(`a generation was renewed (${gens} → ${gensAfter}): the cache was emptied instead of the entries being fenced`);
    } finally {
      workload.release(targets);
      redis.disconnect();
    }
  },
};

/** Rows back to an earlier state with LOWER versions and the version trigger bypassed, as a restore leaves them. */
async function rewindRows(rows: Array<{ key: SettingsKey; version: bigint; displayName: string }>): Promise<void> {
  const client = new Client({ host: '127.0.0.1', port: localStack.postgresPort, user: 'postgres', database: localStack.database, connectionTimeoutMillis: 3_000 });
  await client.connect();
  try {
    await client.query('BEGIN');
    // The version triggers fire ALWAYS (migration 0010), also in replica mode: a restore's
    // lower versions are written with them turned off, inside this transaction only (no other
    // session sees them off; writers of these tables wait for the commit).
    await client.query('ALTER TABLE account_settings DISABLE TRIGGER account_settings_set_version');
    await client.query('ALTER TABLE doctor_settings DISABLE TRIGGER doctor_settings_set_version');
    for (const { key, version, displayName } of rows) {
      if (key.kind === 'account') {
        await client.query('UPDATE account_settings SET display_name = $2, version = $3 WHERE account_id = $1', [key.accountId, displayName, version.toString()]);
      } else {
        await client.query('UPDATE doctor_settings SET display_name = $3, version = $4 WHERE account_id = $1 AND doctor_id = $2', [key.accountId, key.doctorId, displayName, version.toString()]);
      }
    }
    await client.query('ALTER TABLE account_settings ENABLE ALWAYS TRIGGER account_settings_set_version');
    await client.query('ALTER TABLE doctor_settings ENABLE ALWAYS TRIGGER doctor_settings_set_version');
    await client.query('COMMIT');
  } finally {
    await client.end();
  }
}

const renewEntry = (): string => join(servicesRoot, 'services/invalidator/dist/src/admin/renew-cache-generations.js');

export const restoreEpochBump: Scenario = {
  name: 'restore-epoch-bump',
  behaviour: 'after a simulated restore (rows back to older content with lower versions, the slot gone) the runbook generation renewal makes every key converge to its row',
  fault: `remember ${REWOUND} cached rows ("the backup"), update them and cache the newer values; stop the connector, drop its slot, write the backup back with lower versions (triggers bypassed), hold, start the connector; then the runbook's renew-cache-generations`,
  async inject({ fleet, keys, db, caller, workload, redisUrl, rng, sizes, log, note }) {
    const redis = await openCache(redisUrl);
    const targets = sampleDistinct(rng, keys, REWOUND);
    workload.reserve(targets);
    await targetsHaveRows(db, targets);
    try {
      const backup: Array<{ key: SettingsKey; version: bigint; displayName: string }> = [];
      for (const key of targets) {
        const row = await readRow(db, key);
        if (row) backup.push({ key, ...row });
      }
      // After the backup: newer values, cached.
      for (const [i, { key }] of backup.entries()) await updateRow(db, key, `after-backup-${i}`);
      let cachedNewer = 0;
      for (const { key } of backup) {
        const row = await readRow(db, key);
        if (row && (await waitEntry(redis, caller, key, sizes.callDeadlineMs, row.version))) cachedNewer++;
      }
      // The restore: the server the connector streamed from is gone with its slot; the rows are back
      // at the backup (versions lower than what is cached), written without the version trigger.
      const slot = connectorFile().config['slot.name']!;
      log('stopping the connector (a restore: the old server and its slot are gone)');
      await stopConnector();
      await waitSlotInactive(slot);
      note(`replication slot ${slot} dropped: ${await dropReplicationSlot()}`);
      await rewindRows(backup);
      await sleep(sizes.faultHoldMs);
      log('starting the connector again');
      await startConnectAgain(log);
      // Neither the stream nor the CDC heal can help: every marker and every read event is below the cached version.
      await sleep(3_000);
      let staleServed = 0;
      for (const { key, version } of backup) {
        const r = await caller.get(key, 'default', sizes.callDeadlineMs);
        if (r.ok && BigInt(r.value.version) > version) staleServed++;
      }
      const before = await countEntries(redis, keys);
      const missesBefore = metricSum(await fleet.settingsMetrics(), 'settings_cache_requests_total', { result: 'miss' });
      const hitsBefore = await cacheEntryHits(fleet);
      // The runbook ("Restore of PostgreSQL or a CDC gap"), against the services' Redis database.
      const t0 = Date.now();
      const { stdout, stderr } = await promisify(execFile)(process.execPath, [renewEntry()], { env: { ...process.env, REDIS_URL: redisUrl, LOG_LEVEL: 'info' }, timeout: 30_000 });
      log(`renew-cache-generations: ${(stdout + stderr).trim().split('\n').pop() ?? ''}`);
      const after = await countEntries(redis, keys);
      // What the renewal itself did, before any write (the targets are still reserved) could
      // evict them the ordinary way: every rewound row reads at its restored version now.
      const servedAfterRenewal: string[] = [];
      for (const { key, version } of backup) {
        const r = await caller.get(key, 'default', sizes.callDeadlineMs);
        if (!r.ok || BigInt(r.value.version) !== version) servedAfterRenewal.push(`${key.name}: ${r.ok ? `v${r.value.version}` : 'failed'} (row v${version})`);
      }
      await sleep(2_000);
      const misses = metricSum(await fleet.settingsMetrics(), 'settings_cache_requests_total', { result: 'miss' }) - missesBefore;
      const hits = (await cacheEntryHits(fleet)) - hitsBefore;
      note(
        `rewound ${backup.length} rows (newer values cached first: ${cachedNewer}); after the restore and the connector restart (CDC heal included) ${staleServed}/${backup.length} still served the newer, lost value; ` +
          `renew-cache-generations in ${secs(Date.now() - t0)} s: of ${keys.length} keys ${before.current} were cached before, right after it ${after.current} current and ${after.dead} dead entries (misses); ` +
          `the service counted ${misses} misses and ${hits} entry hits in the next ~2 s. This scenario empties the cache by design`,
      );
      if (staleServed === 0) throw new Error('no rewound row was served its newer, lost value before the renewal: the scenario proves nothing about it');
      if (servedAfterRenewal.length > 0) throw new Error(`right after renew-cache-generations, rewound rows were not read at their restored version: ${servedAfterRenewal.join('; ')}`);
    } finally {
      workload.release(targets);
      redis.disconnect();
    }
  },
};
