import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

/**
 * runMain in a real process (test/fixtures/run-main-fixture.ts, run by tsx): real signals, real
 * exit codes. A process that exits by a signal's default action reports `signal`, not a code,
 * so `code` 143/130 proves the handler was installed.
 */
jest.setTimeout(30_000);

const fixture = join(__dirname, '../fixtures/run-main-fixture.ts');

interface Run {
  child: ChildProcess;
  stdout: string[];
  stderr: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves when the fixture has written `word` on a line of its own. */
  said(word: string): Promise<void>;
}

function run(env: Record<string, string> = {}, opts: { ipc?: boolean } = {}): Run {
  const child = spawn(process.execPath, ['--import', 'tsx', fixture], { env: { ...process.env, ...env }, stdio: opts.ipc ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'] });
  const r: Run = {
    child,
    stdout: [],
    stderr: '',
    exited: new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal }))),
    said: (word) =>
      new Promise((resolve, reject) => {
        const check = (): void => {
          if (r.stdout.includes(word)) resolve();
        };
        child.stdout!.on('data', check);
        child.once('exit', () => (r.stdout.includes(word) ? resolve() : reject(new Error(`exited without saying ${word}; stderr: ${r.stderr}`))));
        check();
      }),
  };
  let buf = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    buf += chunk;
    const lines = buf.split('\n');
    buf = lines.pop()!;
    r.stdout.push(...lines);
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (r.stderr += chunk));
  return r;
}

const stopped: ChildProcess[] = [];
afterEach(() => {
  for (const c of stopped.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});
const tracked = (r: Run): Run => (stopped.push(r.child), r);

it('a configuration error exits 2 with the message, before anything starts', async () => {
  const r = tracked(run({ FIXTURE_CONFIG: 'invalid' }));
  expect(await r.exited).toEqual({ code: 2, signal: null });
  expect(r.stderr).toBe('fixture: invalid configuration:\n  - FIXTURE_PORT="x": expected an integer\n');
  expect(r.stdout).toEqual([]);
});

it('a failed start exits 1 with the error and what caused it', async () => {
  const r = tracked(run({ FIXTURE_START: 'fail' }));
  expect(await r.exited).toEqual({ code: 1, signal: null });
  expect(r.stderr).toMatch(/^fixture failed: Error: cannot reach the database/);
  expect(r.stderr).toContain('caused by: Error: connect ECONNREFUSED 127.0.0.1:5432');
});

it('a job exits with the code its work resolved with', async () => {
  const r = tracked(run({ FIXTURE_START: 'job' }));
  expect(await r.exited).toEqual({ code: 3, signal: null });
});

it.each(['SIGTERM', 'SIGINT'] as const)('%s while serving drains, then exits 0', async (signal) => {
  const r = tracked(run({ FIXTURE_STOP_MS: '300' }));
  await r.said('serving');
  r.child.kill(signal);
  expect(await r.exited).toEqual({ code: 0, signal: null });
  expect(r.stdout).toEqual(['starting', 'serving', 'draining', 'drained']);
});

it('SIGTERM during a slow start-up exits at once with 143: the handler is in before start-up', async () => {
  const r = tracked(run({ FIXTURE_START_MS: '20000' }));
  await r.said('starting');
  const t0 = Date.now();
  r.child.kill('SIGTERM');
  expect(await r.exited).toEqual({ code: 143, signal: null });
  expect(Date.now() - t0).toBeLessThan(5_000);
  expect(r.stdout).toEqual(['starting']);
});

it('SIGTERM during a start-up step marked completeBeforeExit waits for it, then drains and exits 0', async () => {
  const r = tracked(run({ FIXTURE_COMPLETE_MS: '1500' }));
  await r.said('joining');
  r.child.kill('SIGTERM');
  expect(await r.exited).toEqual({ code: 0, signal: null });
  expect(r.stdout).toEqual(['starting', 'joining', 'joined', 'serving', 'draining', 'drained']);
});

it('a marked start-up step that fails after a signal exits as the signal (143), without serving', async () => {
  const r = tracked(run({ FIXTURE_COMPLETE_MS: '1000', FIXTURE_COMPLETE: 'fail' }));
  await r.said('joining');
  r.child.kill('SIGTERM');
  expect(await r.exited).toEqual({ code: 143, signal: null });
  expect(r.stdout).toEqual(['starting', 'joining']);
});

it('a marked start-up step that outlasts the grace period after a signal is ended with exit 1', async () => {
  const r = tracked(run({ FIXTURE_COMPLETE_MS: '20000', FIXTURE_GRACE_MS: '500' }));
  await r.said('joining');
  const t0 = Date.now();
  r.child.kill('SIGTERM');
  expect(await r.exited).toEqual({ code: 1, signal: null });
  expect(Date.now() - t0).toBeLessThan(5_000);
});

it('a second signal during the drain does not cut it short', async () => {
  const r = tracked(run({ FIXTURE_STOP_MS: '1000' }));
  await r.said('serving');
  r.child.kill('SIGINT');
  await r.said('draining');
  r.child.kill('SIGTERM');
  expect(await r.exited).toEqual({ code: 0, signal: null });
  expect(r.stdout).toEqual(['starting', 'serving', 'draining', 'drained']);
});

it('a drain that overruns the grace period is ended with exit 1', async () => {
  const r = tracked(run({ FIXTURE_STOP_MS: '20000', FIXTURE_GRACE_MS: '500' }));
  await r.said('serving');
  const t0 = Date.now();
  r.child.kill('SIGTERM');
  expect(await r.exited).toEqual({ code: 1, signal: null });
  expect(Date.now() - t0).toBeLessThan(5_000);
  expect(r.stdout).toEqual(['starting', 'serving', 'draining']);
});

it('started over an IPC channel (a harness), it drains and exits 0 when the channel closes, as the harness going away closes it', async () => {
  const r = tracked(run({}, { ipc: true }));
  await r.said('serving');
  r.child.disconnect();
  expect(await r.exited).toEqual({ code: 0, signal: null });
  expect(r.stdout).toEqual(['starting', 'serving', 'draining', 'drained']);
});

it('started over an IPC channel, it exits (143) when the channel closes while its modules still load, before runMain', async () => {
  const r = tracked(run({ FIXTURE_LOAD_MS: '3000' }, { ipc: true }));
  await r.said('loading');
  const t0 = Date.now();
  r.child.disconnect();
  expect(await r.exited).toEqual({ code: 143, signal: null });
  expect(Date.now() - t0).toBeLessThan(2000);
  expect(r.stdout).toEqual(['loading']);
});

it('a job started over an IPC channel still exits when it is done (the channel does not keep it alive)', async () => {
  const r = tracked(run({ FIXTURE_START: 'job' }, { ipc: true }));
  expect(await r.exited).toEqual({ code: 3, signal: null });
});
