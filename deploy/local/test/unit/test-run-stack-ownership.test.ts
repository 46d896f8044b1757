import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Which stack `npm test` may stop: only one it started from nothing. The stack functions are
 * faked (this is the test run's bookkeeping, not the components); the state folder is a temp dir.
 */
process.env.STACK_STATE_DIR = mkdtempSync(join(tmpdir(), 'stack-state-'));
const running = { postgres: true, redis: true, kafka: true, connect: false };
const calls: string[] = [];
jest.mock('../../src/stack', () => ({
  status: async () => Object.entries(running).map(([component, up]) => ({ component, running: up, detail: '', log: '' })),
  up: async () => void calls.push('up'),
  down: async () => void calls.push('down'),
}));
jest.mock('../running-invalidator', () => ({ refuseRunningInvalidator: async () => void calls.push('no invalidator of npm start') }));

// Imported after the mock and the state folder are set.
// eslint-disable-next-line @typescript-eslint/no-require-imports -- must load after jest.mock and STACK_STATE_DIR
const { default: globalSetup, startedByTestsMarker } = require('../jest-global-setup') as typeof import('../jest-global-setup');
// eslint-disable-next-line @typescript-eslint/no-require-imports -- same
const { default: globalTeardown } = require('../jest-global-teardown') as typeof import('../jest-global-teardown');

beforeEach(() => {
  calls.length = 0;
  delete process.env.KEEP_STACK;
});

it('a test run that finds part of a stack running (someone\'s npm start, its Connect worker down) brings it up and leaves it up', async () => {
  Object.assign(running, { postgres: true, redis: true, kafka: true, connect: false });
  await globalSetup();
  await globalTeardown();
  expect(calls).toEqual(['up', 'no invalidator of npm start']);
});

it('a test run that finds the whole stack running still brings it up (migrations, bootstrap, connector config of this checkout) and leaves it up', async () => {
  Object.assign(running, { postgres: true, redis: true, kafka: true, connect: true });
  await globalSetup();
  await globalTeardown();
  expect(calls).toEqual(['up', 'no invalidator of npm start']);
});

it('a test run that started the stack from nothing stops it at the end', async () => {
  Object.assign(running, { postgres: false, redis: false, kafka: false, connect: false });
  await globalSetup();
  expect(readFileSync(startedByTestsMarker, 'utf8')).toBe(String(process.pid));
  await globalTeardown();
  expect(calls).toEqual(['up', 'no invalidator of npm start', 'down']);
  expect(existsSync(startedByTestsMarker)).toBe(false);
});
