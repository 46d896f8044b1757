import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The pid file of a stack component after its process is gone and the pid was reused by another program. */
process.env.STACK_STATE_DIR = mkdtempSync(join(tmpdir(), 'stack-state-'));
// eslint-disable-next-line @typescript-eslint/no-require-imports -- must load after STACK_STATE_DIR is set
const { ManagedProcess, processStartTime } = require('../../src/managed-process') as typeof import('../../src/managed-process');

const alive = (p: ChildProcess): boolean => p.exitCode === null && p.signalCode === null;

it('a pid file naming a process that started after ours (a recycled pid) is not running, and down leaves that process alone', async () => {
  const stranger = spawn('sleep', ['60'], { stdio: 'ignore' });
  try {
    const m = new ManagedProcess('redis');
    // Our process started at tick 1 after boot; the pid now belongs to `sleep`.
    writeFileSync(m.pidFile, `${stranger.pid} 1`);
    expect(m.isRunning()).toBe(false);
    await m.stop(200);
    await new Promise((r) => setTimeout(r, 100));
    expect(alive(stranger)).toBe(true);
  } finally {
    stranger.kill('SIGKILL');
  }
});

it('a process it started is running, and is stopped', async () => {
  const m = new ManagedProcess('kafka');
  const pid = m.start('sleep', ['60']);
  expect(processStartTime(pid)).toMatch(/^\d+$/);
  expect(m.isRunning()).toBe(true);
  await m.stop(2_000);
  expect(m.isRunning()).toBe(false);
});
