import { status } from '@grpc/grpc-js';
import { summarize, type LatencySummary } from '../../stats';
import type { VariantResult } from './result';
import { READ_DEADLINE_MS, SAVE_DEADLINE_MS, type Traffic } from './traffic';

/**
 * Counts and latencies of the reads and saves: overall, in the burst, and in the burst but
 * outside the bulk UPDATE (whose row locks stall everything that touches its rows). A timed-out
 * call counts at its deadline; so does any other failed read, or failed free save (a row the bulk
 * does not touch): it served nothing, whatever its status. (Left out, as they were, 1,047 reads
 * this system failed UNAVAILABLE in one burst made its read p99 1,188 ms instead of the deadline,
 * while the baselines' failures, all timeouts, counted at 2 s.) Every other failed save (the
 * replay's rows, all of which the bulk UPDATE changes) counts at its own latency, whatever its
 * status and whenever it ran, not only those that met the bulk's row locks: ABORTED ROW_LOCKED,
 * UNAVAILABLE LOAD_SHED and a baseline's exhausted pool alike — failing fast is what the caller
 * sees; the report says so beside these p99s and counts the failed saves.
 */
export function callSummaries(traffic: Traffic): Pick<VariantResult, 'reads' | 'saves' | 'bulkheads'> {
  const { reads, saves, freeSaves, bulk, burstStart, burstEnd, shed } = traffic;
  // The last half of the warm phase: the cache is warm by then, so this is the steady state.
  const preBurstFrom = burstStart - (burstStart - traffic.t0) / 2;
  const preBurst = (x: { start: number }): boolean => x.start >= preBurstFrom && x.start < burstStart;
  const inBurst = (x: { start: number }): boolean => x.start >= burstStart && x.start < burstEnd;
  const overlapsBulk = (x: { start: number; latency: number }): boolean => x.start < bulk.end && x.start + x.latency > bulk.start;
  const readLat = (pred: (r: (typeof reads)[number]) => boolean): LatencySummary =>
    summarize(reads.filter(pred).map((r) => (r.ok ? r.latency : READ_DEADLINE_MS)));
  const saveLat = (pred: (x: (typeof saves)[number]) => boolean): LatencySummary => summarize(saves.filter(pred).map((x) => (x.timeout ? SAVE_DEADLINE_MS : x.latency)));
  const freeLat = (pred: (x: (typeof freeSaves)[number]) => boolean): LatencySummary => summarize(freeSaves.filter(pred).map((x) => (x.ok ? x.latency : SAVE_DEADLINE_MS)));
  // Saves to the bulk's rows that started while its UPDATE ran: they wait for its row locks.
  const locked = saves.filter((x) => x.start >= bulk.start && x.start < bulk.end);
  return {
    bulkheads: {
      readP99PreBurstMs: readLat(preBurst).p99,
      readP99BurstMs: readLat(inBurst).p99,
      freeSaves: {
        total: freeSaves.length,
        ok: freeSaves.filter((x) => x.ok).length,
        errors: freeSaves.filter((x) => !x.ok).length,
        timeouts: freeSaves.filter((x) => x.timeout).length,
        preBurstLatencyMs: freeLat(preBurst),
        burstLatencyMs: freeLat(inBurst),
      },
      lockedSaves: {
        total: locked.length,
        ok: locked.filter((x) => x.ok).length,
        aborted: locked.filter((x) => x.code === status.ABORTED).length,
        timeouts: locked.filter((x) => x.timeout).length,
        otherErrors: locked.filter((x) => !x.ok && !x.timeout && x.code !== status.ABORTED).length,
        // Every one, failed or not: the point is how fast the caller learns.
        latencyMs: summarize(locked.map((x) => x.latency)),
        // The ones refused for the lock: the target is lock_timeout + 50 ms.
        abortedLatencyMs: summarize(locked.filter((x) => x.code === status.ABORTED).map((x) => x.latency)),
      },
    },
    reads: {
      total: reads.length,
      ok: reads.filter((r) => r.ok).length,
      errors: reads.filter((r) => !r.ok).length,
      timeouts: reads.filter((r) => r.timeout).length,
      shed,
      failures: failuresByStatus(reads),
      latencyMs: readLat(() => true),
      burstLatencyMs: readLat(inBurst),
      burstLatencyOutsideBulkMs: readLat((r) => inBurst(r) && !overlapsBulk(r)),
    },
    saves: {
      total: saves.length,
      ok: saves.filter((x) => x.ok).length,
      errors: saves.filter((x) => !x.ok).length,
      timeouts: saves.filter((x) => x.timeout).length,
      latencyMs: saveLat(() => true),
      burstLatencyMs: saveLat(inBurst),
      burstLatencyOutsideBulkMs: saveLat((x) => inBurst(x) && !overlapsBulk(x)),
    },
  };
}

/** Failed calls by gRPC status name, most frequent first (`UNAVAILABLE 1040, DEADLINE_EXCEEDED 7`): for the progress log. */
export function failuresByStatus(calls: ReadonlyArray<{ ok: boolean; code: number }>): string {
  const counts = new Map<number, number>();
  for (const c of calls) if (!c.ok) counts.set(c.code, (counts.get(c.code) ?? 0) + 1);
  if (counts.size === 0) return 'none';
  const name = (code: number): string => Object.entries(status).find(([, v]) => v === code)?.[0] ?? String(code);
  return [...counts].sort((a, b) => b[1] - a[1]).map(([code, n]) => `${name(code)} ${n}`).join(', ');
}
