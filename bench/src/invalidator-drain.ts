import { sleep, type BenchContext } from './context';
import { processCpuSeconds } from './process-cpu';
import { scrape, startInvalidatorProcess } from './procs';
import { round } from './stats';

export interface DrainRate {
  /** Distinct keys applied per second while draining the backlog. */
  keysPerSecond: number;
  /**
   * Change events consumed per second over the same window (an event counts when its chunk is
   * decoded, before its keys are applied: meaningful for large backlogs only).
   */
  eventsPerSecond: number;
  drainSeconds: number;
  /** CPU of the invalidator process (user + system) per change event, from before its first event was decoded to the last key applied. */
  cpuMicrosPerEvent: number;
}

/**
 * Starts one invalidator process on `groupId` (already positioned before a backlog of `keys`
 * change events) and measures how fast it drains it, from its own `invalidator_keys_applied_total`
 * sampled every 50 ms.
 * The window runs from the last sample with nothing applied to the first with everything applied,
 * so process start-up and the group join are not counted. The process is stopped afterwards.
 */
export async function measureInvalidatorDrain(ctx: BenchContext, name: string, groupId: string, keys: number, env: Record<string, string>): Promise<DrainRate> {
  // Not waiting for readiness: sampling starts while it joins, so the window starts at zero.
  const inv = await startInvalidatorProcess(ctx, name, groupId, env, { waitReady: false });
  const samples: Array<{ t: number; keys: number; events: number; cpuSeconds: number }> = [];
  const pid = inv.child.pid!;
  try {
    const deadline = Date.now() + 600_000;
    // A stuck invalidator (e.g. retrying a failing eviction forever) fails the run in a minute, not ten.
    let progressAt = Date.now();
    for (;;) {
      const m = await scrape(inv.httpPort).catch(() => undefined);
      if (!m) {
        if (inv.exit !== undefined) throw new Error(`invalidator exited; see ${inv.logFile}`);
        if (Date.now() > deadline) throw new Error('invalidator metrics never came up');
        await sleep(20);
        continue;
      }
      const s = { t: Date.now(), keys: m.get('invalidator_keys_applied_total') ?? 0, events: m.get('invalidator_events_consumed_total') ?? 0, cpuSeconds: processCpuSeconds(pid) ?? Number.NaN };
      if (s.keys !== samples[samples.length - 1]?.keys) progressAt = s.t;
      samples.push(s);
      if (s.keys >= keys) break;
      if (Date.now() > deadline || s.t - progressAt > 60_000) throw new Error(`${name}: applied ${s.keys} of ${keys} keys, no progress for ${Math.round((s.t - progressAt) / 1000)} s; see ${inv.logFile}`);
      await sleep(50);
    }
  } finally {
    await inv.stop();
  }
  const a = samples[Math.max(0, samples.findIndex((s) => s.keys > 0) - 1)]!;
  const b = samples[samples.length - 1]!;
  // CPU per event over the whole work: from before the first event was decoded (a small backlog
  // is decoded in one chunk before its first key is applied, i.e. before `a`).
  const c = samples[Math.max(0, samples.findIndex((s) => s.events > 0) - 1)]!;
  const secs = (b.t - a.t) / 1000;
  return {
    keysPerSecond: Math.round((b.keys - a.keys) / secs),
    eventsPerSecond: Math.round((b.events - a.events) / secs),
    drainSeconds: round(secs, 2),
    cpuMicrosPerEvent: round(((b.cpuSeconds - c.cpuSeconds) * 1e6) / (b.events - c.events), 1),
  };
}
