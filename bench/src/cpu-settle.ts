import { readFileSync } from 'node:fs';
import { sleep } from './context';

/** The machine-wide CPU counters of /proc/stat's first line, in ticks. */
export interface CpuTicks {
  busy: number;
  total: number;
}

/**
 * Busy and total ticks from /proc/stat's `cpu` line (user nice system idle iowait irq softirq
 * steal ...): busy = user + nice + system + irq + softirq. Idle, iowait and steal (time the
 * hypervisor gave another tenant) are not this machine's own load.
 */
export function parseCpuTicks(procStat: string): CpuTicks | undefined {
  const line = procStat.split('\n').find((l) => l.startsWith('cpu '));
  if (!line) return undefined;
  const f = line.trim().split(/\s+/).slice(1, 9).map(Number);
  if (f.length < 8 || f.some((v) => !Number.isFinite(v))) return undefined;
  const [user, nice, system, idle, iowait, irq, softirq, steal] = f as [number, number, number, number, number, number, number, number];
  return { busy: user + nice + system + irq + softirq, total: user + nice + system + idle + iowait + irq + softirq + steal };
}

/** Share of the machine's CPU time that was busy between two readings (NaN when no time passed). */
export const busyShare = (a: CpuTicks, b: CpuTicks): number => (b.total > a.total ? (b.busy - a.busy) / (b.total - a.total) : Number.NaN);

function readTicks(): CpuTicks | undefined {
  try {
    return parseCpuTicks(readFileSync('/proc/stat', 'utf8'));
  } catch {
    return undefined;
  }
}

/**
 * Waits until the machine's CPU has settled: a `windowMs` window busy below `busyBelow` of all
 * cores, or `maxMs` in all. Returns how long it waited and the last window's busy share (NaN
 * where /proc/stat cannot be read: then it does not wait).
 */
export async function waitForCpuToSettle(opts: { busyBelow: number; windowMs: number; maxMs: number }): Promise<{ waitedMs: number; busyShare: number; settled: boolean }> {
  const start = Date.now();
  let prev = readTicks();
  if (!prev) return { waitedMs: 0, busyShare: Number.NaN, settled: false };
  let share = Number.NaN;
  while (Date.now() - start < opts.maxMs) {
    await sleep(opts.windowMs);
    const now = readTicks();
    if (!now) break;
    share = busyShare(prev, now);
    prev = now;
    if (share < opts.busyBelow) return { waitedMs: Date.now() - start, busyShare: share, settled: true };
  }
  return { waitedMs: Date.now() - start, busyShare: share, settled: false };
}
