import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, writeSync } from 'node:fs';
import { request } from 'node:http';

/**
 * One service (settings or an invalidator replica) as a real child process started from its
 * compiled entry point, as it runs in production: SIGKILL in a scenario is a real kill.
 *
 * Unlike the stack's ManagedProcess (detached daemons that outlive the CLI) these children
 * belong to the run: they are attached, and every one still alive is SIGKILLed when the
 * runner exits, however it exits, so a crashed run leaves nothing behind.
 */
export class ChildService {
  private readonly child: ChildProcess;
  private readonly exited: Promise<void>;
  private exitInfo: string | undefined;
  /** Set by the fleet when it ends the process on purpose (a supervisor must not restart it). */
  expectedExit = false;

  constructor(
    readonly name: string,
    readonly script: string,
    env: Record<string, string>,
    readonly logFile: string,
  ) {
    if (!existsSync(script)) throw new Error(`${script} not found: run \`npx tsc -b\` first`);
    const fd = openSync(logFile, 'a');
    writeSync(fd, `\n----- ${new Date().toISOString()} starting ${name} -----\n`);
    this.child = spawn(process.execPath, [script], { env: { ...process.env, ...env }, stdio: ['ignore', fd, fd] });
    closeSync(fd);
    if (this.child.pid === undefined) throw new Error(`could not start ${name}`);
    live.add(this);
    this.exited = new Promise((resolve) =>
      this.child.once('exit', (code, signal) => {
        this.exitInfo = signal ?? `exit ${code ?? '?'}`;
        live.delete(this);
        resolve();
      }),
    );
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Undefined while running; the signal or exit code once it has exited. */
  get exit(): string | undefined {
    return this.exitInfo;
  }

  /** Sends `signal` and waits for the exit; after `graceMs` without one, SIGKILL. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 15_000): Promise<void> {
    this.expectedExit = true;
    if (this.exitInfo !== undefined) return;
    this.child.kill(signal);
    const force = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(force);
  }

  /** Polls `http://127.0.0.1:<port><path>` until it answers 200; fails early if the process exits. */
  async waitHttpOk(port: number, path: string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.exitInfo !== undefined) throw new Error(`${this.name} exited (${this.exitInfo}) during start-up; log ${this.logFile}:\n${tail(this.logFile)}`);
      if ((await httpStatus(port, path)) === 200) return;
      if (Date.now() > deadline) throw new Error(`${this.name}: ${path} not 200 after ${timeoutMs} ms; log ${this.logFile}:\n${tail(this.logFile)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

const live = new Set<ChildService>();

// Synchronous on purpose: 'exit' handlers cannot wait. SIGKILL leaves nothing to clean up here,
// and the services' own shutdown paths are exercised by the scenarios, not by this.
process.on('exit', () => {
  for (const c of live) {
    try {
      process.kill(c.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
});

/** Stops every child still running (the runner's cleanup path). */
export async function stopAllChildren(): Promise<void> {
  await Promise.all([...live].map((c) => c.stop('SIGTERM', 5_000)));
}

/** HTTP status of a GET, or 0 when nothing answers (not listening yet, or hung past the timeout). */
export async function httpStatus(port: number, path: string, timeoutMs = 1_000): Promise<number> {
  return (await httpGet(port, path, timeoutMs)).status;
}

/** GET on 127.0.0.1; status 0 and an empty body when nothing answers in time. */
export function httpGet(port: number, path: string, timeoutMs = 1_000): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'GET', timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve({ status: 0, body: '' }));
    req.end();
  });
}

function tail(file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}
