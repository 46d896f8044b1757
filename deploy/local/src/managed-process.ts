import { spawn, spawnSync } from 'node:child_process';
import { existsSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { componentDir, logFile } from './state-dir';

/**
 * A long-running background process of the local stack, remembered by a pid file in its
 * state folder so `up` is idempotent and `down` works from another shell.
 */
export class ManagedProcess {
  readonly pidFile: string;
  readonly log: string;

  constructor(readonly name: string) {
    this.pidFile = join(componentDir(name), `${name}.pid`);
    this.log = logFile(name);
  }

  pid(): number | undefined {
    return this.recorded()?.pid;
  }

  /** The pid file: `<pid> <start time>` (the start time, in clock ticks since boot, since 2026-12-04). */
  private recorded(): { pid: number; startTime: string | undefined } | undefined {
    if (!existsSync(this.pidFile)) return undefined;
    const [rawPid, startTime] = readFileSync(this.pidFile, 'utf8').trim().split(/\s+/);
    const pid = Number(rawPid);
    return Number.isInteger(pid) && pid > 0 ? { pid, startTime } : undefined;
  }

  isRunning(): boolean {
    const recorded = this.recorded();
    if (recorded === undefined) return false;
    const { pid, startTime } = recorded;
    try {
      process.kill(pid, 0);
    } catch {
      return false;
    }
    // A recycled pid belongs to someone else (after a reboot or a crash the pid file outlives its
    // process): `down` would SIGTERM and SIGKILL it, and `up` would wait for it. The pid is ours
    // only if the process started when ours did.
    const now = processStartTime(pid);
    if (startTime !== undefined && now !== undefined && now !== startTime) return false;
    // Zombies are "not running".
    const stat = spawnSync('ps', ['-o', 'stat=', '-p', String(pid)], { encoding: 'utf8' }).stdout.trim();
    return stat !== '' && !stat.startsWith('Z');
  }

  /** Starts `cmd` detached (it outlives this CLI) with stdout/stderr appended to its log. */
  start(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): number {
    const out = openSync(this.log, 'a');
    const child = spawn(cmd, args, { detached: true, stdio: ['ignore', out, out], env });
    child.unref();
    if (child.pid === undefined) throw new Error(`${this.name}: could not spawn ${cmd}`);
    writeFileSync(this.pidFile, `${child.pid} ${processStartTime(child.pid) ?? ''}`.trim());
    return child.pid;
  }

  /** SIGTERM, wait up to `graceMs` for a clean exit, then SIGKILL. */
  async stop(graceMs = 20_000): Promise<void> {
    const pid = this.pid();
    if (pid === undefined || !this.isRunning()) {
      rmSync(this.pidFile, { force: true });
      return;
    }
    process.kill(pid, 'SIGTERM');
    const deadline = Date.now() + graceMs;
    while (this.isRunning() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    if (this.isRunning()) process.kill(pid, 'SIGKILL');
    rmSync(this.pidFile, { force: true });
  }
}

/** When `pid` started (field 22 of /proc/<pid>/stat, clock ticks since boot); undefined without /proc. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count fields after the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}
