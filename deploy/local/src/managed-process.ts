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
    if (!existsSync(this.pidFile)) return undefined;
    const pid = Number(readFileSync(this.pidFile, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  }

  isRunning(): boolean {
    const pid = this.pid();
    if (pid === undefined) return false;
    try {
      process.kill(pid, 0);
    } catch {
      return false;
    }
    // A recycled pid belongs to someone else: zombies and unrelated programs are "not running".
    const stat = spawnSync('ps', ['-o', 'stat=', '-p', String(pid)], { encoding: 'utf8' }).stdout.trim();
    return stat !== '' && !stat.startsWith('Z');
  }

  /** Starts `cmd` detached (it outlives this CLI) with stdout/stderr appended to its log. */
  start(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): number {
    const out = openSync(this.log, 'a');
    const child = spawn(cmd, args, { detached: true, stdio: ['ignore', out, out], env });
    child.unref();
    if (child.pid === undefined) throw new Error(`${this.name}: could not spawn ${cmd}`);
    writeFileSync(this.pidFile, String(child.pid));
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
