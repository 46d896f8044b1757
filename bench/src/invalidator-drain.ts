import type { TopicOffsets } from '@settings/local-stack';
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
  /** CPU of the invalidator processes (user + system) per change event, from before its first event was decoded to the last key applied. */
  cpuMicrosPerEvent: number;
}

/**
 * Starts one invalidator process per group of `groupIds` (each already positioned before its part
 * of a backlog of `keys` change events in all) and measures how fast they drain it together, from
 * their `invalidator_keys_applied_total` summed, sampled every 50 ms. Several groups stand for
 * replicas of one group whose assignment has settled: each replica's group has a backlog only on
 * the partitions that replica would own (see `replicaOffsets`), so no rebalance falls inside the
 * window.
 * The window runs from the last sample in which some process had applied nothing yet (every
 * replica is working from the next one on) to the first with everything applied, so process
 * start-up and the group joins are not counted, nor a replica that joined late. The processes are
 * stopped afterwards.
 */
export async function measureInvalidatorDrain(ctx: BenchContext, name: string, groupIds: string | readonly string[], keys: number, env: Record<string, string>): Promise<DrainRate> {
  const groups = typeof groupIds === 'string' ? [groupIds] : groupIds;
  // Not waiting for readiness: sampling starts while they join, so the window starts at zero.
  const invs = await Promise.all(groups.map((g, i) => startInvalidatorProcess(ctx, groups.length === 1 ? name : `${name}-${i + 1}`, g, env, { waitReady: false })));
  const samples: Array<{ t: number; keys: number; events: number; cpuSeconds: number; allConsuming: boolean; allApplying: boolean }> = [];
  try {
    const deadline = Date.now() + 600_000;
    // A stuck invalidator (e.g. retrying a failing eviction forever) fails the run in a minute, not ten.
    let progressAt = Date.now();
    for (;;) {
      const scraped = await Promise.all(invs.map((inv) => scrape(inv.httpPort).catch(() => undefined)));
      const exited = invs.find((inv) => inv.exit !== undefined);
      if (exited) throw new Error(`invalidator exited; see ${exited.logFile}`);
      if (scraped.some((m) => m === undefined)) {
        if (Date.now() > deadline) throw new Error('invalidator metrics never came up');
        await sleep(20);
        continue;
      }
      const sum = (metric: string): number => scraped.reduce((acc, m) => acc + (m!.get(metric) ?? 0), 0);
      const cpuSeconds = invs.reduce((acc, inv) => acc + (processCpuSeconds(inv.child.pid!) ?? Number.NaN), 0);
      const every = (metric: string): boolean => scraped.every((m) => (m!.get(metric) ?? 0) > 0);
      const allConsuming = every('invalidator_events_consumed_total');
      const allApplying = every('invalidator_keys_applied_total');
      const s = { t: Date.now(), keys: sum('invalidator_keys_applied_total'), events: sum('invalidator_events_consumed_total'), cpuSeconds, allConsuming, allApplying };
      if (s.keys !== samples[samples.length - 1]?.keys) progressAt = s.t;
      samples.push(s);
      if (s.keys >= keys) break;
      if (Date.now() > deadline || s.t - progressAt > 60_000) throw new Error(`${name}: applied ${s.keys} of ${keys} keys, no progress for ${Math.round((s.t - progressAt) / 1000)} s; see ${invs[0]!.logFile}`);
      await sleep(50);
    }
  } finally {
    await Promise.all(invs.map((inv) => inv.stop()));
  }
  const a = samples[Math.max(0, firstIndex(samples, (s) => s.allApplying, (s) => s.keys > 0) - 1)]!;
  const b = samples[samples.length - 1]!;
  // CPU per event over the whole work: from before the first event was decoded (a small backlog
  // is decoded in one chunk before its first key is applied, i.e. before `a`); with several
  // processes, from before the last of them decoded its first, so that none's start-up (module
  // loading, the group join) is counted as work on events.
  const c = samples[Math.max(0, firstIndex(samples, (s) => s.allConsuming, (s) => s.events > 0) - 1)]!;
  const secs = (b.t - a.t) / 1000;
  return {
    keysPerSecond: Math.round((b.keys - a.keys) / secs),
    eventsPerSecond: Math.round((b.events - a.events) / secs),
    drainSeconds: round(secs, 2),
    cpuMicrosPerEvent: round(((b.cpuSeconds - c.cpuSeconds) * 1e6) / (b.events - c.events), 1),
  };
}

/**
 * The first sample where `every` holds (all processes), else, when it never did (a replica whose
 * partitions held none of the backlog never applies a key), the first where `any` holds.
 */
function firstIndex<S>(samples: readonly S[], every: (s: S) => boolean, any: (s: S) => boolean): number {
  const i = samples.findIndex(every);
  return i >= 0 ? i : samples.findIndex(any);
}

/**
 * Offsets that give replica `replica` of `replicas` the backlog between `before` and `after` on
 * the partitions it would own in a settled group (partition p goes to replica p mod replicas) and
 * nothing to do on the others.
 */
export function replicaOffsets(before: TopicOffsets, after: TopicOffsets, replica: number, replicas: number): TopicOffsets {
  const out: TopicOffsets = new Map();
  for (const [topic, parts] of before) {
    const ends = after.get(topic) ?? [];
    out.set(
      topic,
      parts.map((p) => (p.partition % replicas === replica ? p : { partition: p.partition, offset: ends.find((e) => e.partition === p.partition)?.offset ?? p.offset })),
    );
  }
  return out;
}
