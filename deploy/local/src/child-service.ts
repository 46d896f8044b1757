import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, writeSync } from 'node:fs';
import { setPriority } from 'node:os';
import { httpStatus } from './http-get';

export interface ChildServiceOptions {
  /** Arguments after the script. */
  args?: string[];
  /** Node/V8 flags before the script (e.g. INVALIDATOR_NODE_ARGS). */
  nodeArgs?: readonly string[];
  cwd?: string;
}

/**
 * One service (the settings service, an invalidator, a benchmark server) as a real child
 * process started from its compiled entry point, as it runs in production: SIGKILL in a
 * scenario is a real kill. stdout and stderr go to `logFile`.
 *
 * Unlike the stack's ManagedProcess (daemons that outlive the CLI) these children belong to the
 * run: every one still alive is SIGKILLed when the harness exits, however it exits (short of
 * SIGKILL), so a crashed run leaves nothing behind.
 */
export class ChildService {
  readonly child: ChildProcess;
  private readonly exited: Promise<void>;
  private exitInfo: string | undefined;
  /** Set once the harness ends the process on purpose (a supervisor must not restart it). */
  expectedExit = false;

  constructor(
    readonly name: string,
    readonly script: string,
    env: Record<string, string>,
    readonly logFile: string,
    opts: ChildServiceOptions = {},
  ) {
    if (!existsSync(script)) throw new Error(`${script} not found: run \`npx tsc -b\` first`);
    const fd = openSync(logFile, 'a');
    writeSync(fd, `\n----- ${new Date().toISOString()} starting ${name} -----\n`);
    this.child = spawn(process.execPath, [...(opts.nodeArgs ?? []), ...profileArgs(), script, ...(opts.args ?? [])], {
      env: { ...process.env, ...env },
      // Always an IPC channel: a service (runMain) ends when it closes, i.e. when this process
      // is gone however it went (Ctrl-C, a CI cancel, jest --forceExit): detached into a session
      // of its own, nothing else would stop it, and it would keep its ports and go on evicting.
      stdio: ['ignore', fd, fd, 'ipc'],
      cwd: opts.cwd,
      // Its own session, so its own CPU autogroup (Linux sched_autogroup, on by default): the
      // kernel shares the CPU between sessions first, so children left in the harness's session
      // would split one share among themselves and the load generator, while each stack
      // component (a detached daemon) has a share of its own. A service is its own pod in
      // production; here it is its own session. It still dies with the harness (trackLive).
      detached: true,
    });
    closeSync(fd);
    if (this.child.pid === undefined) throw new Error(`could not start ${name}`);
    // Services under test run at the default priority even when the harness runs above it.
    try {
      setPriority(this.child.pid, 0);
    } catch {
      /* not permitted: it inherited the harness's priority, which is then also the default */
    }
    trackLive(this);
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

  /** Resident set size in KiB from /proc/<pid>/status; undefined once exited. */
  rssKb(): number | undefined {
    if (this.exitInfo !== undefined) return undefined;
    try {
      const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${this.pid}/status`, 'utf8'));
      return m ? Number(m[1]) : undefined;
    } catch {
      return undefined;
    }
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
      if (this.exitInfo !== undefined) throw new Error(`${this.name} exited (${this.exitInfo}) during start-up; log ${this.logFile}:\n${this.logTail()}`);
      if ((await httpStatus(port, path)) === 200) return;
      if (Date.now() > deadline) throw new Error(`${this.name}: ${path} not 200 after ${timeoutMs} ms; log ${this.logFile}:\n${this.logTail()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** The last lines of the log, for an error message. */
  logTail(lines = 15): string {
    try {
      return readFileSync(this.logFile, 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }
}

const live = new Set<ChildService>();
let killOnExit = false;

function trackLive(c: ChildService): void {
  live.add(c);
  if (killOnExit) return;
  killOnExit = true;
  // Synchronous on purpose: 'exit' handlers cannot wait. SIGKILL leaves nothing to clean up
  // here, and the services' own shutdown paths are exercised by the harnesses, not by this.
  process.on('exit', () => {
    for (const child of live) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  });
}

/** Stops every child still running (a harness's cleanup path). */
export async function stopAllChildren(): Promise<void> {
  await Promise.all([...live].map((c) => c.stop('SIGTERM', 5_000)));
}

/**
 * `CHILD_CPU_PROF_DIR=<dir>`: every Node service started here writes a V8 CPU profile into `<dir>`
 * when it exits (`node --cpu-prof`, which NODE_OPTIONS does not accept); how the bench's numbers
 * were explained (bench/README.md).
 */
function profileArgs(): string[] {
  const dir = process.env.CHILD_CPU_PROF_DIR;
  return dir ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : [];
}
