// Public API of @settings/chaos: run the chaos scenarios against the local stack (main.ts and the
// short jest test both go through ChaosRun).
export { ChaosRun, CHAOS_REDIS_DB, defaultLog, type ChaosReport } from './chaos-run';
export { FULL_SIZES, SHORT_SIZES, SCENARIO_NAMES, optionsFromEnv, parseScenarios, type ChaosOptions, type ChaosSizes, type ScenarioName } from './config';
export { SCENARIOS, type Scenario } from './scenarios';
export { renderTable } from './report-table';
export type { ScenarioResult } from './run-scenario';
