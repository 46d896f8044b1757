/**
 * `npm run chaos` entry (via deploy/local/bin/run.sh, which builds and brings the stack up first).
 *   CHAOS_SEED=n           repeat a run's choices (printed at the start of every run)
 *   CHAOS_SCENARIOS=a,b    subset, in this order (see SCENARIO_NAMES)
 *   CHAOS_SHORT=1          the short sizes `npm test` uses
 * Prints one table to stdout, writes chaos/results/chaos-<run>.json, exits 1 on any mismatch.
 */
import { ChaosRun, defaultLog } from './chaos-run';
import { optionsFromEnv } from './config';
import { healStack } from './faults';
import { renderTable } from './report-table';

async function main(): Promise<number> {
  let options;
  try {
    options = optionsFromEnv();
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    return 2;
  }
  const run = new ChaosRun(options);
  // Ctrl-C mid-fault: stop the services and bring back whatever the fault took down (the stack
  // is shared), then leave; what was measured so far is lost.
  process.once('SIGINT', () => {
    defaultLog('interrupted: stopping the services and healing the stack');
    void run
      .close()
      .then(() => healStack(defaultLog))
      .catch((err: unknown) => defaultLog(`heal failed: ${err instanceof Error ? err.message : String(err)}; run "npm run stack -- up"`))
      .finally(() => process.exit(130));
  });
  try {
    for (const name of options.scenarios) await run.runScenario(name);
  } finally {
    await run.close();
  }
  const report = run.report();
  const file = run.writeReport();
  process.stdout.write(`\nchaos run ${report.runId}, seed ${report.seed}, ${report.mode}, ${report.durationSeconds} s\n\n${renderTable(report.results)}\n\n`);
  for (const r of report.results) {
    const extra = [...r.notes, ...(r.error ? [`error: ${r.error}`] : []), `probes visible ${r.probes.visible}/${r.probes.written}`];
    process.stdout.write(`${r.scenario}: ${extra.join('; ')}\n`);
  }
  process.stdout.write(`\nresults: ${file}\n`);
  return report.passed ? 0 : 1;
}

main().then(
  // kafkajs/pg can leave timers behind; the run is over.
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`chaos failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
