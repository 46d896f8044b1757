import { readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { pidsOfRoles, type CpuRole } from './process-cpu';

/**
 * The processes that turn a committed change into evictions: they may yield the cores to the
 * serving path (the settings service, its callers, Redis) when both want them.
 */
export const CDC_PIPELINE_ROLES: readonly CpuRole[] = ['PostgreSQL', 'Kafka broker', 'Kafka Connect', 'invalidator'];

/** The CDC pipeline's autogroup nice where it yields the cores (weight 110 against 1,024). */
export const CDC_YIELD_NICE = 10;

/**
 * Whether `/proc/<pid>` names the process that has that pid here: not so in a container whose
 * `/proc` was mounted from another PID namespace, where `/proc/<child.pid>` is some other
 * process (then nothing may be written through it). Pids read from `/proc` itself
 * (`pidsOfRoles`) are always right.
 */
export function procMatchesOwnPids(): boolean {
  try {
    return readlinkSync('/proc/self') === String(process.pid);
  } catch {
    return false;
  }
}

/** `/proc/<pid>/autogroup` reads "/autogroup-<id> nice <n>". */
export function autogroupOf(pid: number): { id: string; nice: number } | undefined {
  try {
    const m = /^\/autogroup-(\d+) nice (-?\d+)/.exec(readFileSync(`/proc/${pid}/autogroup`, 'utf8'));
    return m ? { id: m[1]!, nice: Number(m[2]) } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Sets the CPU weight (autogroup nice) of process groups for a while, and puts it back: lowers
 * the CDC pipeline's in bulk-drain, raises the harness's own for the whole run (run-bench.ts).
 *
 * Linux (sched_autogroup, on by default) first shares the cores between sessions — every stack
 * component is a daemon with a session of its own, so is every service the bench starts — and
 * only then between the threads inside one; so `nice` on a process does not change its share
 * against the others, the nice of its autogroup does. Nice 10 is a weight of 110 against 1,024:
 * roughly what separate nodes, or CPU requests of 1:9, give a serving pod over the CDC
 * pipeline in Kubernetes. Raising a nice needs no privilege for one's own processes; lowering one,
 * or changing the stack's PostgreSQL (another user), needs root or CAP_SYS_NICE: `set` returns
 * undefined when any group could not be changed (after putting back what it had changed).
 */
export class AutogroupWeights {
  private constructor(private readonly saved: ReadonlyArray<{ pid: number; nice: number }>) {}

  /** Whether this process may set that nice for those roles now (it sets it and puts it back). */
  static canSetForRoles(roles: readonly CpuRole[], nice: number): boolean {
    const probe = AutogroupWeights.setForRoles(roles, nice);
    probe?.restore();
    return probe !== undefined;
  }

  /** Sets the nice of the autogroups of every process that has one of `roles` now. */
  static setForRoles(roles: readonly CpuRole[], nice: number): AutogroupWeights | undefined {
    return AutogroupWeights.set(
      pidsOfRoles(roles).map((p) => p.pid),
      nice,
    );
  }

  /** Sets the nice of the autogroups of these processes (each group once). */
  static set(pids: readonly number[], nice: number): AutogroupWeights | undefined {
    const seen = new Set<string>();
    const saved: Array<{ pid: number; nice: number }> = [];
    const undo = new AutogroupWeights(saved);
    for (const pid of pids) {
      const group = autogroupOf(pid);
      if (!group) return undo.restoreAndFail();
      if (seen.has(group.id)) continue;
      seen.add(group.id);
      try {
        writeFileSync(`/proc/${pid}/autogroup`, String(nice));
      } catch {
        return undo.restoreAndFail();
      }
      saved.push({ pid, nice: group.nice });
    }
    return saved.length > 0 ? undo : undefined;
  }

  /** Puts every changed group's nice back (a group whose process has exited is gone anyway). */
  restore(): void {
    for (const { pid, nice } of this.saved) {
      try {
        writeFileSync(`/proc/${pid}/autogroup`, String(nice));
      } catch {
        // The process exited: its autogroup went with its session.
      }
    }
  }

  private restoreAndFail(): undefined {
    this.restore();
    return undefined;
  }
}
