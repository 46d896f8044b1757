import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stateDir } from '../src/state-dir';
import { down, status, up } from '../src/stack';
import { refuseRunningInvalidator } from './running-invalidator';

/**
 * Marker: a test run started the stack, so that run's teardown stops it (and drops the slot).
 * It holds the starting process's pid: a marker left by another (crashed or concurrent) run
 * must never make this run stop a stack it did not start.
 */
export const startedByTestsMarker = join(stateDir, 'started-by-tests');

export default async function globalSetup(): Promise<void> {
  // This run is the local stack's own: services the tests start as child processes (from
  // their dist/ entry points, with this environment) default to the stack's endpoints.
  process.env.SETTINGS_LOCAL_STACK = '1';
  const rows = await status().catch(() => []);
  // Ours to stop at the end only if nothing of it ran: a stack that is partly up (someone's
  // `npm start` whose Connect worker died) is theirs, and stopping it would take their
  // PostgreSQL, Redis and Kafka away.
  const startsFromNothing = rows.every((r) => !r.running);
  if (startsFromNothing && existsSync(startedByTestsMarker)) rmSync(startedByTestsMarker);
  // Always `up` (idempotent: running components are checked, not restarted): a reused stack gets
  // this checkout's migrations, database bootstrap and connector configuration, and a component
  // that is down is started.
  const t0 = Date.now();
  const progress = (component: string, message: string): void => void process.stderr.write(`[stack] ${component.padEnd(9)} ${message}\n`);
  try {
    await up(progress);
  } catch (err) {
    // jest skips globalTeardown when globalSetup throws: a stack this run started half-way
    // would stay up, and the next run would take it for someone else's and never stop it.
    if (startsFromNothing && process.env.KEEP_STACK !== '1') await down(progress).catch(() => undefined);
    throw err;
  }
  process.stderr.write(`[stack] up in ${((Date.now() - t0) / 1000).toFixed(1)}s for this test run${startsFromNothing ? '' : ' (a stack that was already running, at least in part: left up afterwards)'}\n`);
  if (startsFromNothing) writeFileSync(startedByTestsMarker, String(process.pid));
  await refuseRunningInvalidator();
}
