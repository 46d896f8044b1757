// setupFiles of the jest project `cluster`: its test files run against the Redis Cluster
// (deploy/local/src/test-redis.ts). Jest gives each test file its own copy of process.env.
process.env.SETTINGS_TEST_REDIS = 'cluster';
