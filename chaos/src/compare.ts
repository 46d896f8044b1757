import { openCache, waitEntry } from './cache-peek';
import type { HarnessDb } from './db';
import { readRows, showsRow, updateRow, type Observed, type SettingsKey } from './keys';
import type { CallResult, ReadMode, SettingsCaller } from './settings-client';

/**
 * After the workload: does every key's default Get (cache or database) show its row? First a
 * poll until it does (seconds to converge), then one final three-way comparison per key.
 */

const CONCURRENCY = 16;
const POLL_EVERY_MS = 500;

/** Runs `fn` over `items` with at most CONCURRENCY calls in flight; results in input order. */
async function mapLimited<T, R>(items: readonly T[], fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, items.length) }, worker));
  return out;
}

/** How long a verifier's read keeps retrying calls the service sheds (RESOURCE_EXHAUSTED). */
const SHED_RETRY_MS = 30_000;
const SHED_PAUSE_MS = 250;

/**
 * One Get per key; a failed call is retried a few times (the stack has just healed). NOT_FOUND
 * is an answer, not a failure: retried, a key without a row was read four times, each a hit of
 * its cached absence (the comparison's served-from-the-cache check passed on those alone), and a
 * stale cached absence had 600 ms more to heal before it was compared. A call
 * the service sheds (RESOURCE_EXHAUSTED: the harness is one caller, and 400 fully_consistent
 * reads are over that caller's deliberate-read share and rate) is retried as a client should,
 * after a pause and without counting as a failure, for up to SHED_RETRY_MS: the comparison is
 * about what the cache and the database hold, not about the limiter.
 */
export async function observeAll(caller: Pick<SettingsCaller, 'get'>, keys: readonly SettingsKey[], mode: ReadMode, deadlineMs: number): Promise<CallResult[]> {
  return mapLimited(keys, async (key) => {
    const shedUntil = Date.now() + SHED_RETRY_MS;
    let r = await caller.get(key, mode, deadlineMs);
    for (let failures = 0; !r.ok && r.code !== 'NOT_FOUND'; ) {
      const shed = r.code === 'RESOURCE_EXHAUSTED' && Date.now() < shedUntil;
      if (!shed && ++failures > 3) break;
      await new Promise((res) => setTimeout(res, shed ? SHED_PAUSE_MS : 200));
      r = await caller.get(key, mode, deadlineMs);
    }
    return r;
  });
}

export interface Convergence {
  /** Seconds from the start of quiescence until every default Get matched its row; null on timeout. */
  seconds: number | null;
  /** Keys still differing at the last poll (0 when converged). */
  diverged: number;
  polls: number;
}

/**
 * Polls until every key's default Get equals its row in PostgreSQL (version and display_name).
 * The row is read after the Gets of a poll, so a write landing in between can only delay
 * convergence, never fake it; nothing writes during quiescence anyway.
 */
export async function waitConverged(caller: SettingsCaller, db: HarnessDb, keys: readonly SettingsKey[], prefix: string, timeoutMs: number, deadlineMs: number): Promise<Convergence> {
  const t0 = Date.now();
  for (let polls = 1; ; polls++) {
    const seen = await observeAll(caller, keys, 'default', deadlineMs);
    const rows = await readRows(db, prefix).catch(() => new Map<string, Observed>());
    const diverged = keys.filter((k, i) => !showsRow(seen[i]!, rows.get(k.name))).length;
    if (diverged === 0) return { seconds: (Date.now() - t0) / 1000, diverged: 0, polls };
    if (Date.now() - t0 > timeoutMs) return { seconds: null, diverged, polls };
    await new Promise((r) => setTimeout(r, POLL_EVERY_MS));
  }
}

export interface Mismatch {
  key: string;
  default: Observed | string;
  fullyConsistent: Observed | string;
  row: Observed | string;
}

const shown = (r: CallResult): Observed | string => (r.ok ? r.value : r.code);

/** For every key: default Get vs fully_consistent Get vs the row. A key where any differ is a mismatch. */
export async function finalCompare(caller: SettingsCaller, db: HarnessDb, keys: readonly SettingsKey[], prefix: string, deadlineMs: number): Promise<Mismatch[]> {
  const byDefault = await observeAll(caller, keys, 'default', deadlineMs);
  const byFully = await observeAll(caller, keys, 'fully_consistent', deadlineMs);
  const rows = await readRows(db, prefix);
  const mismatches: Mismatch[] = [];
  keys.forEach((k, i) => {
    const d = byDefault[i]!;
    const f = byFully[i]!;
    const row = rows.get(k.name);
    const ok = showsRow(d, row) && showsRow(f, row);
    if (!ok) mismatches.push({ key: k.name, default: shown(d), fullyConsistent: shown(f), row: row ?? 'missing' });
  });
  return mismatches;
}

export interface Probe {
  key: SettingsKey;
  value: string;
}

/** How long a probe candidate may take to be cached before the next candidate is tried. */
const PROBE_CACHE_TIMEOUT_MS = 3_000;

/**
 * After the heal: takes the first `count` of `candidates` (keys whose row exists, in a seeded
 * order) that can be cached as an entry of their row, as Redis shows it, then changes each with a
 * psql UPDATE. Only an invalidator that works again can make these visible through a default
 * Get; one that stayed paused leaves the cached old values there for hours. A key that is not
 * cached would show its change through a miss whatever the invalidator does, so it is skipped: a
 * deleted row's key keeps its delete marker for minutes (its absence is not cached), and after a
 * restore a rewound row's key is fenced by a marker at the lost version (a refused fill). Fewer
 * than `count` cacheable keys is an error: the probes would prove less than they say.
 */
export async function writeProbes(caller: SettingsCaller, db: HarnessDb, redisUrl: string, candidates: readonly SettingsKey[], count: number, tag: string, deadlineMs: number): Promise<Probe[]> {
  const redis = await openCache(redisUrl);
  const probeKeys: SettingsKey[] = [];
  try {
    for (const key of candidates) {
      if (probeKeys.length === count) break;
      if (await waitEntry(redis, caller, key, deadlineMs, 1n, PROBE_CACHE_TIMEOUT_MS)) probeKeys.push(key);
    }
  } finally {
    redis.disconnect();
  }
  if (probeKeys.length < count) throw new Error(`only ${probeKeys.length} of ${count} post-heal probe keys could be cached: the probes would prove less than they say`);
  const probes: Probe[] = [];
  for (const [i, key] of probeKeys.entries()) {
    const value = `${tag}probe-${i}`;
    await updateRow(db, key, value);
    probes.push({ key, value });
  }
  return probes;
}

/** How many probes a default Get now shows. */
export async function probesVisible(caller: SettingsCaller, probes: readonly Probe[], deadlineMs: number): Promise<number> {
  const seen = await observeAll(
    caller,
    probes.map((p) => p.key),
    'default',
    deadlineMs,
  );
  return probes.filter((p, i) => {
    const r = seen[i]!;
    return r.ok && r.value.displayName === p.value;
  }).length;
}
