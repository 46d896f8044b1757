/**
 * `npm run bench` entry (via bench/run.sh, which builds and brings the stack up first).
 *   BENCH_QUICK=1          short smoke run (a few seconds per scenario), written to results/raw/quick
 *   BENCH_SCENARIOS=a,b    subset: read-path, cold-start, not-found, l1-coherence, invalidation-lag, eviction-throughput, event-format, bulk-drain, incident-replay, consistent-flood, watch, redis-cluster, memory
 *   BENCH_OUT_DIR=path     where results JSON + REPORT.md go (default bench/results)
 * An unknown scenario exits 2, a failed scenario 1 (after the others ran), Ctrl-C at once (130).
 */
import { ConfigError, runMain } from '@settings/shared';
import { ALL_SCENARIOS, type ScenarioName } from './context';
import { headline } from './report/headline';
import { runBench } from './run-bench';
import { defaultResultsDir } from './write-results';

interface BenchOptions {
  quick: boolean;
  /** Undefined: all of them. */
  scenarios?: ScenarioName[];
  outDir: string;
}

function optionsFromEnv(env: NodeJS.ProcessEnv = process.env): BenchOptions {
  const quick = ['1', 'true', 'yes'].includes((env.BENCH_QUICK ?? '').toLowerCase());
  const scenarios = (env.BENCH_SCENARIOS ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean) as ScenarioName[];
  const unknown = scenarios.filter((s) => !ALL_SCENARIOS.includes(s));
  if (unknown.length) throw new ConfigError([`BENCH_SCENARIOS: unknown scenario(s) ${unknown.join(', ')}; known: ${ALL_SCENARIOS.join(', ')}`]);
  return { quick, scenarios: scenarios.length ? scenarios : undefined, outDir: env.BENCH_OUT_DIR || defaultResultsDir(quick) };
}

// A job: runMain exits with the code it returns (Kafka and pg clients may leave timers behind).
runMain({
  name: 'bench',
  loadConfig: () => optionsFromEnv(),
  async start({ quick, scenarios, outDir }) {
    const results = await runBench({ quick, scenarios, outDir });
    process.stdout.write(`\n${headline(results)}\n\nresults: ${outDir}/results.json, report: ${outDir}/REPORT.md (${results.durationSeconds} s)\n`);
    if (results.errors.length === 0) return 0;
    process.stderr.write(`scenarios failed: ${results.errors.map((e) => `${e.scenario}: ${e.message}`).join('; ')}\n`);
    return 1;
  },
});
