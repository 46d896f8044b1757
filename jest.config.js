// Two projects: unit tests (pure logic, fakes allowed) and integration tests, which share one
// real stack per run (PostgreSQL, Redis, Kafka, Kafka Connect + Debezium) via globalSetup.
const transform = {
  // Types are checked by `tsc -b` before jest runs; here we only need to strip them, fast.
  '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.jest.json', diagnostics: false }],
};
const moduleNameMapper = {
  '^@settings/shared$': '<rootDir>/packages/shared/src/index.ts',
  '^@settings/api$': '<rootDir>/packages/settings-api/src/index.ts',
  '^@settings/db$': '<rootDir>/packages/settings-db/src/index.ts',
  '^@settings/settings-service$': '<rootDir>/services/settings/src/index.ts',
  '^@settings/invalidator$': '<rootDir>/services/invalidator/src/index.ts',
  '^@settings/local-stack$': '<rootDir>/deploy/local/src/index.ts',
};
const roots = ['packages', 'services', 'deploy', 'chaos', 'bench'];
// Run a second time, against the three-master Redis Cluster (project `cluster`): the cache
// contract, the invalidator's evictions, the stale-fill race, cached absences, payload formats and the cluster's own read path.
const clusterTests = [
  'packages/shared/test/integration/cache-scripts.test.ts',
  'services/invalidator/test/integration/evicts-on-change.test.ts',
  'services/invalidator/test/integration/batched-eviction.test.ts',
  'services/invalidator/test/integration/sigkill-restart.test.ts',
  'services/invalidator/test/integration/redis-cluster-master-restart.test.ts',
  'services/invalidator/test/integration/redis-cluster-slot-migrating.test.ts',
  'services/settings/test/integration/stale-fill-race.test.ts',
  'services/settings/test/integration/not-found-cache.test.ts',
  'services/settings/test/integration/payload-format.test.ts',
  'services/settings/test/integration/redis-cluster.test.ts',
];
// Only these folders are scanned: the stack's state folder (.stack) holds files jest must not see.
const rootDirs = roots.map((r) => `<rootDir>/${r}`);

/** @type {import('jest').Config} */
module.exports = {
  testTimeout: 60_000,
  projects: [
    {
      displayName: 'unit',
      transform,
      moduleNameMapper,
      testEnvironment: 'node',
      roots: rootDirs,
      testMatch: roots.map((r) => `<rootDir>/${r}/**/test/unit/**/*.test.ts`),
      modulePathIgnorePatterns: ['<rootDir>/.*/dist/'],
    },
    {
      displayName: 'integration',
      transform,
      moduleNameMapper,
      testEnvironment: 'node',
      roots: rootDirs,
      testMatch: roots.map((r) => `<rootDir>/${r}/**/test/integration/**/*.test.ts`),
      modulePathIgnorePatterns: ['<rootDir>/.*/dist/'],
      globalSetup: '<rootDir>/deploy/local/test/jest-global-setup.ts',
      globalTeardown: '<rootDir>/deploy/local/test/jest-global-teardown.ts',
      // Cluster-only files (they skip themselves elsewhere): not started twice on the single Redis.
      testPathIgnorePatterns: ['/node_modules/', '/test/integration/redis-cluster[^/]*\\.test\\.ts$'],
      slowTestThreshold: 30,
    },
    {
      displayName: 'cluster',
      transform,
      moduleNameMapper,
      testEnvironment: 'node',
      roots: rootDirs,
      testMatch: clusterTests.map((f) => `<rootDir>/${f}`),
      modulePathIgnorePatterns: ['<rootDir>/.*/dist/'],
      setupFiles: ['<rootDir>/deploy/local/test/redis-cluster-env.ts'],
      globalSetup: '<rootDir>/deploy/local/test/jest-global-setup-cluster.ts',
      globalTeardown: '<rootDir>/deploy/local/test/jest-global-teardown-cluster.ts',
      slowTestThreshold: 30,
    },
  ],
};
