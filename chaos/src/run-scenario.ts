import { positionGroupAtEnd } from '@settings/local-stack';
import { cacheEntryHits, waitCacheInUse } from './cache-in-use';
import { finalCompare, probesVisible, waitConverged, writeProbes, type Mismatch, type Probe } from './compare';
import type { ChaosSizes } from './config';
import type { HarnessDb } from './db';
import { healStack, type Log } from './faults';
import { Fleet } from './fleet';
import { deleteRows, keySet, readRows, seedRows } from './keys';
import { metricSum } from './metrics-scrape';
import { sampleDistinct, streamFor } from './prng';
import { BASE_REPLICAS, type Scenario } from './scenarios';
import { SettingsCaller } from './settings-client';
import { Workload } from './workload';

export interface ScenarioResult {
  scenario: string;
  fault: string;
  keys: number;
  /** Successful writes (gRPC Update + psql UPDATE) and successful default Gets of the workload. */
  writes: number;
  reads: number;
  /** Of the reads, answered NOT_FOUND (keys without a row at the time). */
  notFound: number;
  /** Failed workload calls by gRPC status name (`sql:<code>` for the psql writers). */
  errors: Record<string, number>;
  /** Seconds from quiescence until every default Get matched its row; null = not within the timeout. */
  convergeSeconds: number | null;
  convergeTimeoutSeconds: number;
  /** Keys whose default Get, fully_consistent Get and row did not all agree at the end. */
  mismatches: number;
  mismatchExamples: Mismatch[];
  /** psql UPDATEs of cached keys after the heal, and how many a default Get showed at the end. */
  probes: { written: number; visible: number };
  /** Seconds after the workload stopped until the service answered from the cache again (null: never). */
  cacheBackSeconds: number | null;
  /** Default Gets of the final comparison answered with a cached entry (of the keys with a row; cached absences are not counted): 0 would make it vacuous. */
  finalCacheHits: number;
  notes: string[];
  durationSeconds: number;
  /** The scenario could not run to its comparison (e.g. a component did not come back). */
  error?: string;
  passed: boolean;
}

export interface ScenarioEnv {
  runId: string;
  seed: number;
  index: number;
  sizes: ChaosSizes;
  db: HarnessDb;
  logDir: string;
  redisUrl: string;
  log: Log;
}

/** Account ids of scenario `index` start with this; ids must match ^[a-z0-9][a-z0-9_-]{0,62}$ (the run id is base36 + hex). */
export const scenarioPrefix = (runId: string, index: number): string => `ch${runId}-${index}`;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const CACHE_BACK_TIMEOUT_MS = 30_000;
const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/**
 * One scenario from start to verdict: healthy stack → own consumer group at the topic ends →
 * settings service + two invalidator replicas → seeded rows → workload → fault (held, then
 * healed, workload still running) → workload stops → post-heal probes → convergence →
 * final three-way comparison. The fleet is stopped and the stack healed whatever happens.
 */
export async function runScenario(scenario: Scenario, env: ScenarioEnv): Promise<ScenarioResult> {
  const t0 = Date.now();
  const { sizes, db, seed } = env;
  const log: Log = (m) => env.log(`${scenario.name}: ${m}`);
  const notes: string[] = [];
  const note = (m: string): void => {
    notes.push(m);
    log(m);
  };
  const prefix = scenarioPrefix(env.runId, env.index);
  // A scenario's random streams are named after it, not its place in the run: the same seed makes
  // the same choices whether it runs in a full run or alone (CHAOS_SCENARIOS).
  const tag = scenario.name;
  const keys = keySet(prefix, sizes.accounts, sizes.doctorsPerAccount);
  const deadline = sizes.callDeadlineMs;
  let fleet: Fleet | undefined;
  let caller: SettingsCaller | undefined;
  let workload: Workload | undefined;
  let probes: Probe[] = [];
  let visible = 0;
  let convergeSeconds: number | null = null;
  let cacheBackSeconds: number | null = null;
  let finalCacheHits = 0;
  let mismatches: Mismatch[] = [];
  let error: string | undefined;
  try {
    log('checking the stack');
    notes.push(...(await healStack(log)));
    const groupId = `chaos-${env.runId}-${env.index}-${scenario.name}`;
    await positionGroupAtEnd(groupId);
    log(`starting settings service and invalidator replicas ${BASE_REPLICAS.join(', ')} (group ${groupId})`);
    fleet = await Fleet.start({ logDir: env.logDir, groupId, redisUrl: env.redisUrl, auditor: scenario.auditor === true, note, log }, BASE_REPLICAS);
    const churn = scenario.churn !== false;
    // With churn one key in four starts without a row: readers cache its absence, writers create it.
    await seedRows(db, churn ? keys.filter((_, i) => i % 4 !== 3) : keys);
    caller = new SettingsCaller(fleet.grpcPort);
    workload = new Workload(keys, sizes, seed, caller, db, tag, churn);
    log(`workload running on ${keys.length} keys`);
    workload.start();
    await sleep(sizes.warmupMs);

    log(`injecting: ${scenario.fault}`);
    const tInject = Date.now();
    await scenario.inject({ fleet, sizes, rng: streamFor(seed, `${tag}/fault`), log, note, keys, db, caller, workload, redisUrl: env.redisUrl });
    notes.push(...(await healStack(log)));
    log(`healed ${((Date.now() - tInject) / 1000).toFixed(1)} s after the fault began; workload continues`);
    await sleep(sizes.afterHealMs);
    await workload.stop();

    // Until the service reads through Redis again (breaker closed), default Gets come from
    // PostgreSQL and would "converge" however stale the cache is.
    // A key whose row exists: a deleted one's absence is not cached while its delete marker lives.
    const present = await readRows(db, prefix);
    cacheBackSeconds = await waitCacheInUse(fleet, caller, keys.find((k) => present.has(k.name)) ?? keys[0]!, CACHE_BACK_TIMEOUT_MS, deadline * 2);
    if (cacheBackSeconds === null) throw new Error(`the settings service did not answer from the cache within ${CACHE_BACK_TIMEOUT_MS / 1000} s of the workload stopping`);
    // Keys with a row in a seeded order; writeProbes takes the first ones it can cache.
    const withRows = keys.filter((k) => present.has(k.name));
    const candidates = sampleDistinct(streamFor(seed, `${tag}/probes`), withRows, withRows.length);
    log(`workload stopped; ${sizes.probeWrites} post-heal psql UPDATEs of cached keys, then waiting for convergence`);
    probes = await writeProbes(caller, db, env.redisUrl, candidates, sizes.probeWrites, tag, deadline * 2);
    const convergence = await waitConverged(caller, db, keys, prefix, sizes.convergeTimeoutMs, deadline * 2);
    convergeSeconds = convergence.seconds;
    if (convergence.seconds === null) log(`not converged after ${sizes.convergeTimeoutMs / 1000} s: ${convergence.diverged} keys still differ`);
    const hitsBefore = await cacheEntryHits(fleet);
    mismatches = await finalCompare(caller, db, keys, prefix, deadline * 2);
    finalCacheHits = (await cacheEntryHits(fleet)) - hitsBefore;
    // Most of it from the cache: a breaker flapping open (reads around the cache) would compare
    // PostgreSQL with itself. Keys without a row are answered from cached absences or not at all.
    if (finalCacheHits < withRows.length / 2) throw new Error(`only ${finalCacheHits} of the final comparison's ${withRows.length} Gets of existing keys were served from the cache: the comparison says little about it`);
    visible = await probesVisible(caller, probes, deadline * 2);
    if (churn) note(`${metricSum(await fleet.settingsMetrics(), 'settings_cache_not_found_hits_total')} NOT_FOUNDs answered from cached absences (settings_cache_not_found_hits_total)`);
    log(`converged in ${convergeSeconds ?? '-'} s, ${mismatches.length} mismatches, probes visible ${visible}/${probes.length}, final default Gets of existing rows from the cache ${finalCacheHits}/${withRows.length}`);
  } catch (err) {
    error = message(err);
    log(`FAILED: ${error}`);
  } finally {
    await workload?.stop();
    caller?.close();
    log('stopping the fleet');
    await fleet?.stop().catch((err: unknown) => log(`stopping the fleet: ${message(err)}`));
    try {
      notes.push(...(await healStack(log)));
    } catch (err) {
      error ??= `stack did not come back: ${message(err)}`;
    }
    await deleteRows(db, prefix).catch((err: unknown) => log(`cleanup: ${message(err)}`));
    log('done');
  }
  const tally = workload?.tally.toJSON() ?? { writes: 0, reads: 0, notFound: 0, errors: {} };
  return {
    scenario: scenario.name,
    fault: scenario.fault,
    keys: keys.length,
    ...tally,
    convergeSeconds,
    convergeTimeoutSeconds: sizes.convergeTimeoutMs / 1000,
    mismatches: mismatches.length,
    mismatchExamples: mismatches.slice(0, 10),
    probes: { written: probes.length, visible },
    cacheBackSeconds,
    finalCacheHits,
    notes,
    durationSeconds: Math.round((Date.now() - t0) / 100) / 10,
    error,
    // INTERNAL means a bug (issue: retryable failures say UNAVAILABLE/ABORTED with RetryInfo):
    // a fault that makes the service answer INTERNAL fails the scenario like a stale key does.
    // Every post-heal probe must be visible: a replica paused for good shows there first.
    passed: error === undefined && mismatches.length === 0 && convergeSeconds !== null && visible === probes.length && (tally.errors.INTERNAL ?? 0) === 0,
  };
}
