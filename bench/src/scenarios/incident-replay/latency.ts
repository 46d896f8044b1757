import { summarize, type LatencySummary } from '../../stats';
import type { VariantResult } from './result';
import { READ_DEADLINE_MS, SAVE_DEADLINE_MS, type Traffic } from './traffic';

/**
 * Counts and latencies of the reads and saves: overall, in the burst, and in the burst but
 * outside the bulk UPDATE (whose row locks stall everything that touches its rows). A timed-out
 * call counts at its deadline; other failed reads are left out of the latencies.
 */
export function callSummaries(traffic: Traffic): Pick<VariantResult, 'reads' | 'saves'> {
  const { reads, saves, bulk, burstStart, burstEnd, shed } = traffic;
  const inBurst = (x: { start: number }): boolean => x.start >= burstStart && x.start < burstEnd;
  const overlapsBulk = (x: { start: number; latency: number }): boolean => x.start < bulk.end && x.start + x.latency > bulk.start;
  const readLat = (pred: (r: (typeof reads)[number]) => boolean): LatencySummary =>
    summarize(reads.filter((r) => pred(r) && (r.ok || r.timeout)).map((r) => (r.timeout ? READ_DEADLINE_MS : r.latency)));
  const saveLat = (pred: (x: (typeof saves)[number]) => boolean): LatencySummary => summarize(saves.filter(pred).map((x) => (x.timeout ? SAVE_DEADLINE_MS : x.latency)));
  return {
    reads: {
      total: reads.length,
      ok: reads.filter((r) => r.ok).length,
      errors: reads.filter((r) => !r.ok).length,
      timeouts: reads.filter((r) => r.timeout).length,
      shed,
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
