// Public API of @settings/bench: run the benchmark (or its quick smoke mode), get the results,
// write and render them. Named re-exports only.
export { runBench, runQuickBench, type RunOptions } from './run-bench';
export { RESULT_KEYS, type BenchResults } from './results';
export { defaultResultsDir, writeResults } from './write-results';
export { headline } from './report/headline';
export { ALL_SCENARIOS, FULL_SIZES, QUICK_SIZES, type BenchSizes, type ScenarioName } from './context';
