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
      slowTestThreshold: 30,
    },
  ],
};
