import { AutogroupWeights, procMatchesOwnPids } from './autogroup-weights';
import { getPriority, setPriority } from 'node:os';
import { ALL_SCENARIOS, createContext, type BenchContext, type BenchSizes, type ScenarioName } from './context';
import { closeHarnessPool } from './db';
import { drainDebezium } from '@settings/local-stack';
import { machineInfo, versions } from './machine';
import { redisRunId } from './redis-util';
import { RESULT_KEYS, type BenchResults } from './results';
import { runConsistentFlood } from './scenarios/consistent-flood';
import { runWatch } from './scenarios/watch';
import { runRedisCluster } from './scenarios/redis-cluster';
import { runEvictionThroughput } from './scenarios/eviction-throughput';
import { runEventFormat } from './scenarios/event-format';
import { runBulkDrain } from './scenarios/bulk-drain';
import { runIncidentReplay } from './scenarios/incident-replay/incident-replay';
import { runInvalidationLag } from './scenarios/invalidation-lag';
import { runMemory } from './scenarios/memory';
import { runReadPath } from './scenarios/read-path';
import { runColdStart } from './scenarios/cold-start';
import { runNotFound } from './scenarios/not-found';
import { runL1Coherence } from './scenarios/l1-coherence';
import { writeResults } from './write-results';

export interface RunOptions {
  quick?: boolean;
  /** Subset to run (default: all, in the order of ALL_SCENARIOS). */
  scenarios?: readonly ScenarioName[];
  /** Folder for results JSON + REPORT.md; undefined = don't write (e.g. a smoke test). */
  outDir?: string;
  /** Root of the raw (git-ignored) output folder. */
  rawRoot?: string;
  sizes?: BenchSizes;
  log?: (msg: string) => void;
}

const RUNNERS: Record<ScenarioName, (ctx: BenchContext) => Promise<BenchResults[(typeof RESULT_KEYS)[ScenarioName]]>> = {
  'read-path': runReadPath,
  'cold-start': runColdStart,
  'not-found': runNotFound,
  'l1-coherence': runL1Coherence,
  'invalidation-lag': runInvalidationLag,
  'eviction-throughput': runEvictionThroughput,
  'event-format': runEventFormat,
  'bulk-drain': runBulkDrain,
  'incident-replay': runIncidentReplay,
  memory: runMemory,
  'consistent-flood': runConsistentFlood,
  watch: runWatch,
  'redis-cluster': runRedisCluster,
};

/**
 * Runs the benchmark against the local stack, which must be up (`npm run stack -- up`) and the
 * workspace compiled (`npx tsc -b`: the services run from their dist/ entry points).
 */
export async function runBench(opts: RunOptions = {}): Promise<BenchResults> {
  const quick = opts.quick ?? false;
  const ctx = createContext({ quick, rawRoot: opts.rawRoot, log: opts.log, sizes: opts.sizes });
  const started = Date.now();
  const results: BenchResults = {
    runId: ctx.runId,
    mode: quick ? 'quick' : 'full',
    startedAt: new Date(started).toISOString(),
    finishedAt: '',
    durationSeconds: 0,
    machine: machineInfo(),
    versions: await versions(),
    sizes: ctx.sizes,
    errors: [],
    retries: [],
  };
  ctx.log(`run ${ctx.runId} (${results.mode}); raw output in ${ctx.rawDir}`);
  // The load generators share two cores with everything they measure. A higher priority keeps
  // their clocks honest when PostgreSQL, Kafka and Debezium saturate the machine (a bulk update);
  // the services under test keep the default priority, each in a session (CPU autogroup) of its
  // own like each stack component (ChildService). With autogroups on, a nice value only orders
  // processes of one session, so the harness's session gets the priority too. Needs root;
  // skipped otherwise.
  const priorityBefore = getPriority();
  const harnessGroup = procMatchesOwnPids() ? AutogroupWeights.set([process.pid], -5) : undefined;
  try {
    setPriority(-5);
  } catch {
    /* not root */
  }
  try {
    const wanted = new Set(opts.scenarios ?? ALL_SCENARIOS);
    for (const name of ALL_SCENARIOS) if (wanted.has(name)) await runScenario(ctx, name, results);
  } finally {
    await closeHarnessPool();
    harnessGroup?.restore();
    try {
      setPriority(priorityBefore);
    } catch {
      /* lowering back may need root too */
    }
  }
  results.finishedAt = new Date().toISOString();
  results.durationSeconds = Math.round((Date.now() - started) / 1000);
  if (opts.outDir) writeResults(results, opts.outDir);
  return results;
}

/** Quick smoke mode (a few seconds per scenario), without writing files unless asked. */
export function runQuickBench(opts: Omit<RunOptions, 'quick'> = {}): Promise<BenchResults> {
  return runBench({ ...opts, quick: true });
}

/**
 * The stack is shared: another engineer's test may restart Redis mid-scenario (which also
 * empties it). Such a run is discarded and the scenario repeated once; so is a failed one.
 */
async function runScenario(ctx: BenchContext, name: ScenarioName, results: BenchResults): Promise<void> {
  for (let attempt = 1; attempt <= 2; attempt++) {
    const t0 = Date.now();
    ctx.log(`=== ${name}${attempt > 1 ? ' (repeat)' : ''} ===`);
    // Start from a quiet stack: the previous scenario's cleanup (deleting 100,000 rows) is
    // through Debezium before this one measures anything.
    await drainDebezium().catch((err: unknown) => ctx.log(`debezium drain before ${name} failed: ${String(err)}`));
    const runIdBefore = await redisRunId();
    try {
      const value = await RUNNERS[name](ctx);
      if ((await redisRunId()) !== runIdBefore) throw new Error('Redis restarted during the scenario (shared stack); result discarded');
      (results as unknown as Record<string, unknown>)[RESULT_KEYS[name]] = value;
      ctx.log(`=== ${name} done in ${Math.round((Date.now() - t0) / 1000)} s ===`);
      return;
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      ctx.log(`=== ${name} FAILED: ${err instanceof Error ? (err.stack ?? message) : message}`);
      if (attempt === 2) results.errors.push({ scenario: name, message });
      else results.retries.push({ scenario: name, message });
    }
  }
}

