/**
 * `npm run bench` entry (via bench/run.sh, which builds and brings the stack up first).
 *   BENCH_QUICK=1          short smoke run (a few seconds per scenario), written to results/raw/quick
 *   BENCH_SCENARIOS=a,b    subset: read-path, invalidation-lag, eviction-throughput, incident-replay, memory
 *   BENCH_OUT_DIR=path     where results JSON + REPORT.md go (default bench/results)
 */
import { ALL_SCENARIOS, type ScenarioName } from './context';
import { defaultResultsDir, runBench } from './index';
import { headline } from './report/report';

async function main(): Promise<void> {
  const quick = ['1', 'true', 'yes'].includes((process.env.BENCH_QUICK ?? '').toLowerCase());
  const scenarios = (process.env.BENCH_SCENARIOS ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean) as ScenarioName[];
  const unknown = scenarios.filter((s) => !ALL_SCENARIOS.includes(s));
  if (unknown.length) {
    process.stderr.write(`unknown scenario(s) ${unknown.join(', ')}; known: ${ALL_SCENARIOS.join(', ')}\n`);
    process.exit(2);
  }
  const outDir = process.env.BENCH_OUT_DIR || defaultResultsDir(quick);
  const results = await runBench({ quick, scenarios: scenarios.length ? scenarios : undefined, outDir });
  process.stdout.write(`\n${headline(results)}\n\nresults: ${outDir}/results.json, report: ${outDir}/REPORT.md (${results.durationSeconds} s)\n`);
  if (results.errors.length > 0) {
    process.stderr.write(`scenarios failed: ${results.errors.map((e) => `${e.scenario}: ${e.message}`).join('; ')}\n`);
    process.exit(1);
  }
}

main().then(
  // Kafka/pg clients can leave timers behind; the run is over.
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
