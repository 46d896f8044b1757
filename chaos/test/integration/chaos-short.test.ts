import { ChaosRun, optionsFromEnv, renderTable, SCENARIOS, type ScenarioName } from '../../src/index';

/**
 * The short chaos run inside `npm test`: each fault injected once, one at a time, against the
 * real stack with the services as child processes (built by `tsc -b` before jest runs), with
 * a small seeded workload. Every key must end equal to its row: default Get, fully_consistent
 * Get and PostgreSQL agree. The full run (more keys, longer phases) is `npm run chaos`.
 * CHAOS_SEED repeats a run's choices; CHAOS_SCENARIOS narrows the set here too.
 */
jest.setTimeout(240_000);

// The short sizes whatever CHAOS_SHORT says, CHAOS_SOAK_SECONDS still applied (optionsFromEnv does that).
const options = optionsFromEnv({ ...process.env, CHAOS_SHORT: '1' });
const run = new ChaosRun(options);

afterAll(async () => {
  await run.close();
  const file = run.writeReport();
  process.stderr.write(`\n${renderTable(run.results)}\n[chaos] seed ${options.seed}; results ${file}\n`);
});

const scenarios: ScenarioName[] = options.scenarios;

describe('chaos, short run: one fault at a time under a seeded workload', () => {
  for (const name of scenarios) {
    it(SCENARIOS[name].behaviour, async () => {
      const r = await run.runScenario(name);
      // On failure jest prints this object: did it run, did it converge, how many keys differ.
      expect({ error: r.error, converged: r.convergeSeconds !== null, mismatches: r.mismatches, probesVisible: r.probes.visible, internalErrors: r.errors.INTERNAL ?? 0 }).toEqual({
        error: undefined,
        converged: true,
        mismatches: 0,
        probesVisible: r.probes.written,
        // A fault is the environment failing: callers must get UNAVAILABLE (retryable), never INTERNAL.
        internalErrors: 0,
      });
    });
  }
});
