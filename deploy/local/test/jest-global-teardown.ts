import { existsSync, readFileSync, rmSync } from 'node:fs';
import { down } from '../src/stack';
import { startedByTestsMarker } from './jest-global-setup';

/**
 * A stack this run started is stopped again (which drops the replication slot); one that
 * was already running (`npm start` in another terminal) is left alone. KEEP_STACK=1 keeps
 * it up for fast re-runs while developing.
 */
export default async function globalTeardown(): Promise<void> {
  if (!existsSync(startedByTestsMarker) || process.env.KEEP_STACK === '1') return;
  // Only the run that started the stack stops it (globalSetup and globalTeardown share a process).
  if (readFileSync(startedByTestsMarker, 'utf8').trim() !== String(process.pid)) return;
  rmSync(startedByTestsMarker);
  await down((component, message) => process.stderr.write(`[stack] ${component.padEnd(9)} ${message}\n`));
}
