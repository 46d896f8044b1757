import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { localStack } from '@settings/shared';
import { runId as newRunId, stopAllChildren } from '@settings/local-stack';
import type { ChaosOptions, ChaosSizes, ScenarioName } from './config';
import { HarnessDb } from './db';
import type { Log } from './faults';
import { resultsDir, servicesRoot } from './paths';
import { deleteRows } from './keys';
import { runScenario, scenarioPrefix, type ScenarioResult } from './run-scenario';
import { SCENARIOS } from './scenarios';

/**
 * The suite's own Redis logical database: its services fill and evict only there, so other
 * engineers' entries in db 0 (and the benchmark's db 7) are never touched by the suite's
 * services. Restarting Redis still empties every database: that is the fault.
 */
export const CHAOS_REDIS_DB = 6;

export interface ChaosReport {
  runId: string;
  seed: number;
  mode: 'full' | 'short';
  sizes: ChaosSizes;
  startedAt: string;
  durationSeconds: number;
  /** The checkout whose compiled services ran (CHAOS_SERVICES_ROOT, default this one). */
  servicesRoot: string;
  results: ScenarioResult[];
  passed: boolean;
}

const t0 = Date.now();
/** Progress lines on stderr, with seconds since the runner started (where the time goes). */
export const defaultLog: Log = (msg) => process.stderr.write(`[chaos ${((Date.now() - t0) / 1000).toFixed(1).padStart(6)}s] ${msg}\n`);

/** One run: scenarios one at a time, each on its own keys and fleet, results collected. */
export class ChaosRun {
  /** Lower-case base36 time + hex: valid inside account ids and consumer group names. */
  readonly runId = newRunId();
  readonly results: ScenarioResult[] = [];
  readonly logDir: string;
  private readonly db = new HarnessDb('settings-chaos');
  private readonly started = new Date();

  constructor(
    readonly options: ChaosOptions,
    private readonly log: Log = defaultLog,
  ) {
    this.logDir = join(resultsDir, 'raw', this.runId);
    mkdirSync(this.logDir, { recursive: true });
    this.log(`run ${this.runId}, seed ${options.seed} (repeat with CHAOS_SEED=${options.seed}), ${options.short ? 'short' : 'full'} mode, scenarios: ${options.scenarios.join(', ')}`);
    this.log(`services from ${servicesRoot}; their logs under ${this.logDir}`);
  }

  async runScenario(name: ScenarioName): Promise<ScenarioResult> {
    const result = await runScenario(SCENARIOS[name], {
      runId: this.runId,
      seed: this.options.seed,
      index: this.results.length,
      sizes: this.options.sizes,
      db: this.db,
      logDir: this.logDir,
      redisUrl: `redis://127.0.0.1:${localStack.redisPort}/${CHAOS_REDIS_DB}`,
      log: this.log,
    });
    this.results.push(result);
    return result;
  }

  report(): ChaosReport {
    return {
      runId: this.runId,
      seed: this.options.seed,
      mode: this.options.short ? 'short' : 'full',
      sizes: this.options.sizes,
      startedAt: this.started.toISOString(),
      servicesRoot,
      durationSeconds: Math.round((Date.now() - this.started.getTime()) / 1000),
      results: this.results,
      passed: this.results.length > 0 && this.results.every((r) => r.passed),
    };
  }

  /** Writes `chaos/results/chaos-<run>.json` and returns its path. */
  writeReport(): string {
    mkdirSync(resultsDir, { recursive: true });
    const file = join(resultsDir, `chaos-${this.runId}.json`);
    writeFileSync(file, `${JSON.stringify(this.report(), null, 2)}\n`);
    return file;
  }

  /** Stops every service still running and deletes the rows of a scenario cut short (Ctrl-C). */
  async close(): Promise<void> {
    await stopAllChildren();
    await deleteRows(this.db, scenarioPrefix(this.runId, this.results.length)).catch(() => undefined);
    await this.db.close();
  }
}
