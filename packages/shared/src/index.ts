// Public API of @settings/shared: the contract both services share.

// Configuration
export * from './config/env-config';
export * from './config/common-env';
export * from './config/kafka-client-options';
export * from './config/local-stack-endpoints';

// Cache contract: key map, value format, Lua scripts, timing rules
export * from './cache/key-map';
export * from './cache/cache-value';
export * from './cache/cache-scripts';
export * from './cache/evict-to-marker-batch';
export * from './cache/cache-timing';
export * from './cache/generation';
export * from './cache/payload-generation';
export * from './cache/redis-incarnation';
export * from './cache/cache-redis';
export * from './cache/stall-aware-command-timeout';
export * from './cache/silent-connection-reset';
export * from './cache/audit-sample';
export * from './cache/fill-lease';
export * from './cache/key-slots';

// Debezium change events, and the topics that carry them
export * from './debezium/change-event';
export * from './debezium/cdc-gap';
export * from './kafka/create-missing-topics';

// Observability
export * from './observability/logger';
export * from './observability/http-probes-server';
export * from './observability/counter-tally';
export * from './observability/histogram-tally';
export * from './observability/zeroed-counter';
export * from './observability/log-sampler';

// Process start-up shared by every entry point
export * from './process/run-main';

// Resources: the id pattern and the cached tables the key map is derived from
export * from './resources/resource-id';
export * from './resources/cached-table';
export * from './resources/settings-tables';
