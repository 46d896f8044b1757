import type { ChaosSizes, ScenarioName } from './config';
import type { HarnessDb } from './db';
import type { Log } from './faults';
import type { Fleet } from './fleet';
import type { SettingsKey } from './keys';
import type { Prng } from './prng';
import type { SettingsCaller } from './settings-client';
import type { Workload } from './workload';

/** What a fault needs: the fleet (to kill or add replicas), the phase lengths, a place for notes. */
export interface ScenarioContext {
  fleet: Fleet;
  sizes: ChaosSizes;
  rng: Prng;
  log: Log;
  /** Something the report should show (what was killed, how long a join took, …). */
  note(msg: string): void;
  /** The scenario's keys, the harness's pool, a caller of the service and the running workload (cache scenarios plant and read entries). */
  keys: readonly SettingsKey[];
  db: HarnessDb;
  caller: SettingsCaller;
  workload: Workload;
  /** Redis of the services under test (the suite's logical database). */
  redisUrl: string;
}

export interface Scenario {
  name: ScenarioName;
  /** The behaviour the scenario checks, as the short test's `it` title. */
  behaviour: string;
  /** What is injected (README and progress lines). */
  fault: string;
  /**
   * Whether the fleet runs the staleness auditor (default false). Only the scenarios about the
   * auditor turn it on: it fences stale entries it samples, so in any other scenario it would
   * repair what the fault left behind (a lost invalidation, a replica paused for good) before
   * the comparison could see it, and the verdict must prove the invalidator (or the heal) alone.
   */
  auditor?: boolean;
  /**
   * Whether rows come and go (default true): one key in four starts without a row (its absence
   * is cached until a writer creates it), and the psql writers also delete rows. The CDC gap
   * scenarios turn it off: a row deleted during a gap is not healed (docs/operations.md, "Not
   * healed: a row deleted in the gap"), a documented non-guarantee, not what they check.
   */
  churn?: boolean;
  /** Runs while the workload runs: inject the fault, hold it, heal it. */
  inject(ctx: ScenarioContext): Promise<void>;
}
