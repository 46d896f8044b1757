import { randomSeed } from './prng';

/** Every fault the suite injects, in the order a full run executes them. */
export const SCENARIO_NAMES = [
  'normal-workload-audit',
  'invalidator-sigkill',
  'redis-restart',
  'redis-outage-rebalance',
  'postgres-restart',
  'kafka-restart',
  'connect-restart',
  'slot-recreated',
  'offsets-reset',
  'slot-invalidated',
  'planted-stale-entry',
  'restore-epoch-bump',
] as const;
export type ScenarioName = (typeof SCENARIO_NAMES)[number];

/** Sizes and phase lengths of one run. */
export interface ChaosSizes {
  /** Accounts per scenario; each has one account-settings key and `doctorsPerAccount` doctor keys. */
  accounts: number;
  doctorsPerAccount: number;
  grpcWriters: number;
  sqlWriters: number;
  readers: number;
  /** Pause of each writer between two writes (so ~1000/interval writes per second per writer). */
  writeIntervalMs: number;
  /**
   * One psql write in this many deletes its key's row instead (0 = none); any later write of the
   * key, psql or gRPC, creates it again. Readers then meet absences, which the service caches:
   * a creation that reaches no reader is a stale NOT_FOUND.
   */
  deleteEvery: number;
  readIntervalMs: number;
  /** Workload before the fault: fills the cache so the fault hits warm entries. */
  warmupMs: number;
  /** How long a component stays down (or a killed replica stays dead) while the workload runs. */
  faultHoldMs: number;
  /** Workload after the heal, before it stops. */
  afterHealMs: number;
  /** How long the third replica of the rebalance scenario may take to join its group. */
  rebalanceJoinTimeoutMs: number;
  /** After the workload stops: how long every key may take to match its row. */
  convergeTimeoutMs: number;
  /** psql UPDATEs of cached keys after the heal that must become visible through a default Get. */
  probeWrites: number;
  /** Deadline of each workload call; checks use twice this. */
  callDeadlineMs: number;
  /** How long `normal-workload-audit` runs the workload with no fault (CHAOS_SOAK_SECONDS overrides). */
  soakMs: number;
}

export const FULL_SIZES: ChaosSizes = {
  accounts: 200,
  doctorsPerAccount: 1,
  grpcWriters: 2,
  sqlWriters: 2,
  readers: 4,
  writeIntervalMs: 40,
  deleteEvery: 8,
  readIntervalMs: 10,
  warmupMs: 8_000,
  faultHoldMs: 6_000,
  afterHealMs: 6_000,
  rebalanceJoinTimeoutMs: 30_000,
  convergeTimeoutMs: 60_000,
  probeWrites: 10,
  callDeadlineMs: 2_000,
  soakMs: 600_000,
};

/** `npm test`'s version: the same faults, fewer keys, shorter phases (CI time). */
export const SHORT_SIZES: ChaosSizes = {
  accounts: 40,
  doctorsPerAccount: 1,
  grpcWriters: 1,
  sqlWriters: 1,
  readers: 3,
  writeIntervalMs: 40,
  deleteEvery: 8,
  readIntervalMs: 10,
  warmupMs: 3_000,
  faultHoldMs: 3_000,
  afterHealMs: 2_000,
  rebalanceJoinTimeoutMs: 20_000,
  convergeTimeoutMs: 30_000,
  probeWrites: 10,
  callDeadlineMs: 2_000,
  soakMs: 15_000,
};

export interface ChaosOptions {
  seed: number;
  short: boolean;
  scenarios: ScenarioName[];
  sizes: ChaosSizes;
}

const truthy = (v: string | undefined): boolean => ['1', 'true', 'yes'].includes((v ?? '').trim().toLowerCase());

/**
 * CHAOS_SEED (integer; random and printed when unset), CHAOS_SHORT=1 (the `npm test` sizes),
 * CHAOS_SCENARIOS=a,b (subset, in the given order), CHAOS_SOAK_SECONDS (length of the no-fault audit soak). Throws on an unknown scenario or a bad seed.
 */
export function optionsFromEnv(env: NodeJS.ProcessEnv = process.env): ChaosOptions {
  const short = truthy(env.CHAOS_SHORT);
  const rawSeed = (env.CHAOS_SEED ?? '').trim();
  const seed = rawSeed === '' ? randomSeed() : Number(rawSeed);
  // The streams take the seed as 32 bits (prng.ts): a larger seed would repeat another's run.
  if (!Number.isSafeInteger(seed) || seed < 0 || seed >= 2 ** 32) throw new Error(`CHAOS_SEED must be an integer from 0 to 4294967295, got ${JSON.stringify(rawSeed)}`);
  const sizes = short ? SHORT_SIZES : FULL_SIZES;
  const rawSoak = (env.CHAOS_SOAK_SECONDS ?? '').trim();
  const soakSeconds = rawSoak === '' ? sizes.soakMs / 1000 : Number(rawSoak);
  if (!Number.isFinite(soakSeconds) || soakSeconds < 1) throw new Error(`CHAOS_SOAK_SECONDS must be a number >= 1, got ${JSON.stringify(rawSoak)}`);
  return { seed, short, scenarios: parseScenarios(env.CHAOS_SCENARIOS), sizes: { ...sizes, soakMs: soakSeconds * 1000 } };
}

export function parseScenarios(raw: string | undefined): ScenarioName[] {
  const names = (raw ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (names.length === 0) return [...SCENARIO_NAMES];
  const unknown = names.filter((n) => !(SCENARIO_NAMES as readonly string[]).includes(n));
  if (unknown.length > 0) throw new Error(`unknown scenario(s) ${unknown.join(', ')}; known: ${SCENARIO_NAMES.join(', ')}`);
  return names as ScenarioName[];
}
