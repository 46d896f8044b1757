import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stateDir } from '../src/state-dir';
import { status, up } from '../src/stack';

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
  const allUp = rows.length > 0 && rows.every((r) => r.running);
  if (!allUp) {
    if (existsSync(startedByTestsMarker)) rmSync(startedByTestsMarker);
    const t0 = Date.now();
    await up((component, message) => process.stderr.write(`[stack] ${component.padEnd(9)} ${message}\n`));
    process.stderr.write(`[stack] up in ${((Date.now() - t0) / 1000).toFixed(1)}s for this test run\n`);
    writeFileSync(startedByTestsMarker, String(process.pid));
  }
}
