import { readdirSync, readFileSync } from 'node:fs';
import { localStack } from '@settings/shared';

/**
 * What shares this machine's two cores during a scenario, by role. The service under test is
 * either the settings service (+ its invalidator) or a baseline's legacy server; the load
 * generator is the harness itself; the bulk job is the process that runs the bulk UPDATE.
 */
export const CPU_ROLES = ['service', 'invalidator', 'load generator', 'bulk job', 'PostgreSQL', 'Redis', 'Kafka broker', 'Kafka Connect'] as const;
export type CpuRole = (typeof CPU_ROLES)[number];

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ): 100 on every Linux port Node runs on. */
const USER_HZ = 100;

/** A process as /proc shows it: name, NUL-separated command line, parent. */
export interface ProcInfo {
  pid: number;
  ppid: number;
  comm: string;
  cmdline: string;
}

/**
 * The role of a process; undefined: not counted. PostgreSQL and Redis count only the local
 * stack's (the machine has its own on the default ports): the postmaster started on the data
 * directory under `.stack/` and its children, and the redis-server on the stack's port.
 */
export function cpuRoleOf(p: ProcInfo, stackPostmasters: ReadonlySet<number>): CpuRole | undefined {
  const { cmdline } = p;
  if (cmdline.includes('services/settings/dist/') || cmdline.includes('baselines/legacy-server')) return 'service';
  if (cmdline.includes('services/invalidator/dist/')) return 'invalidator';
  if (cmdline.includes('baselines/bulk-job')) return 'bulk job';
  if (cmdline.includes('bench/dist/')) return 'load generator';
  if (cmdline.includes('ConnectDistributed')) return 'Kafka Connect';
  if (cmdline.includes('kafka.Kafka')) return 'Kafka broker';
  if (p.comm.startsWith('postgres') && (stackPostmasters.has(p.pid) || stackPostmasters.has(p.ppid))) return 'PostgreSQL';
  if (p.comm.startsWith('redis-server') && cmdline.includes(`:${localStack.redisPort}`)) return 'Redis';
  return undefined;
}

/** Postmasters of the local stack: started with a data directory under `.stack/`. */
export function stackPostmasters(procs: readonly ProcInfo[]): Set<number> {
  return new Set(procs.filter((p) => p.comm.startsWith('postgres') && p.cmdline.includes('/.stack/')).map((p) => p.pid));
}

/** CPU seconds (user + system, all threads) `pid` has used so far; undefined once it is gone. */
export function processCpuSeconds(pid: number): number | undefined {
  try {
    return cpuSecondsOfStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}

// Fields after "pid (comm) ": state, ppid, ... utime is the 12th and stime the 13th.
const statFields = (stat: string): string[] => stat.slice(stat.lastIndexOf(')') + 2).split(' ');
const cpuSecondsOfStat = (stat: string): number => {
  const f = statFields(stat);
  return (Number(f[11]) + Number(f[12])) / USER_HZ;
};

function readProcs(): Array<ProcInfo & { seconds: number }> {
  const out: Array<ProcInfo & { seconds: number }> = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      out.push({
        pid: Number(name),
        ppid: Number(statFields(stat)[1]),
        comm: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')),
        cmdline: readFileSync(`/proc/${name}/cmdline`, 'utf8'),
        seconds: cpuSecondsOfStat(stat),
      });
    } catch {
      // Gone between readdir and read.
    }
  }
  return out;
}

/** Pids of the processes that have one of `roles` now. */
export function pidsOfRoles(roles: readonly CpuRole[]): Array<{ pid: number; role: CpuRole }> {
  const procs = readProcs();
  const postmasters = stackPostmasters(procs);
  const out: Array<{ pid: number; role: CpuRole }> = [];
  for (const p of procs) {
    const role = cpuRoleOf(p, postmasters);
    if (role && roles.includes(role)) out.push({ pid: p.pid, role });
  }
  return out;
}

/** CPU seconds used so far by every counted process (user + system, all threads). */
function cpuByProcess(): Map<number, { role: CpuRole; seconds: number }> {
  const procs = readProcs();
  const postmasters = stackPostmasters(procs);
  const out = new Map<number, { role: CpuRole; seconds: number }>();
  for (const p of procs) {
    const role = cpuRoleOf(p, postmasters);
    if (role) out.set(p.pid, { role, seconds: p.seconds });
  }
  return out;
}

/**
 * Cumulative CPU seconds per role since the meter started, counting each process's own
 * increase between scans (processes that start later count from their first scan, minus what
 * they used before it: less than one interval's worth).
 */
export class CpuMeter {
  private last = cpuByProcess();
  private readonly total = new Map<CpuRole, number>(CPU_ROLES.map((r) => [r, 0]));

  /** Scans /proc and returns the cumulative seconds per role. */
  scan(): Record<CpuRole, number> {
    const now = cpuByProcess();
    for (const [pid, p] of now) {
      const before = this.last.get(pid);
      const delta = before && before.role === p.role ? p.seconds - before.seconds : 0;
      this.total.set(p.role, (this.total.get(p.role) ?? 0) + Math.max(0, delta));
    }
    this.last = now;
    return Object.fromEntries(this.total) as Record<CpuRole, number>;
  }
}
