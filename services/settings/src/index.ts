// Public API of the settings service package: run it in-process (tests, benchmarks) and read
// its configuration schema (docs, deployment checks).
export { startSettingsServer, cacheTimingFrom, type RunningSettingsServer, type StartOptions } from './app';
export { settingsEnvSchema, loadSettingsConfig, type SettingsConfig } from './config';
export { createSettingsMetrics, type SettingsMetrics } from './metrics';
export { ConsistencyTokens, decodeToken, type ConsistencyToken } from './consistency/token';
export type { ReadThroughHooks } from './cache/read-through';
