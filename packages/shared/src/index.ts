// Public API of @settings/shared: the contract both services share.

// Configuration
export * from './config/env-config';
export * from './config/common-env';
export * from './config/local-stack-endpoints';

// Cache contract: key map, value format, Lua scripts, timing rules
export * from './cache/key-map';
export * from './cache/cache-value';
export * from './cache/cache-scripts';
export * from './cache/cache-timing';
export * from './cache/generation';
export * from './cache/redis-incarnation';

// Debezium change events
export * from './debezium/change-event';

// Observability
export * from './observability/logger';
export * from './observability/http-probes-server';
