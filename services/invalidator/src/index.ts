// Public API of the invalidator package (used by tests and the benchmark harness).
export { startInvalidator, type RunningInvalidator } from './invalidator';
export { invalidatorEnvSchema, loadInvalidatorConfig, type InvalidatorConfig } from './config';
export { planEvictions, UnplannableEventError, type EvictionPlan } from './eviction/eviction-plan';
export { EvictionBatcher } from './eviction/eviction-batcher';
export { TokenBucket } from './backpressure/token-bucket';
export { AdaptiveRate } from './backpressure/adaptive-rate';
