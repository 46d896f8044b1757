import { rateSeries, type Series } from '../../sampler';
import { percentileSorted, round, sortedCopy } from '../../stats';
import type { TimelinePoint } from './result';
import { READ_DEADLINE_MS, SAVE_DEADLINE_MS, type Traffic } from './traffic';

/**
 * One point per second of `spanMs` from the load's start: reads and their p99, stale reads,
 * save p99 (a timed-out call counts at its deadline), server-wide Redis and PostgreSQL rates,
 * and the harness's own event-loop delay.
 */
export function buildTimeline(traffic: Traffic, spanMs: number, staleByRead: readonly boolean[], series: Series): TimelinePoint[] {
  const { t0, reads, saves, loopDelay } = traffic;
  const secs = Math.ceil(spanMs / 1000);
  const readLat: number[][] = Array.from({ length: secs }, () => []);
  const saveLat: number[][] = Array.from({ length: secs }, () => []);
  const stale = new Array<number>(secs).fill(0);
  reads.forEach((r, i) => {
    const b = Math.floor((r.start - t0) / 1000);
    if (b < 0 || b >= secs) return;
    if (r.ok || r.timeout) readLat[b]!.push(r.timeout ? READ_DEADLINE_MS : r.latency);
    if (staleByRead[i]) stale[b]!++;
  });
  for (const x of saves) {
    const b = Math.floor((x.start - t0) / 1000);
    if (b >= 0 && b < secs) saveLat[b]!.push(x.timeout ? SAVE_DEADLINE_MS : x.latency);
  }
  const redisRates = rateSeries(series, 'redisCommands', t0 - 1000, t0 + spanMs + 1000);
  const pgRates = rateSeries(series, 'pgXacts', t0 - 1000, t0 + spanMs + 1000);
  const at = (rates: Array<{ t: number; rate: number }>, sec: number): number => {
    const mid = t0 + sec * 1000 + 500;
    let best: { t: number; rate: number } | undefined;
    for (const r of rates) if (!best || Math.abs(r.t - mid) < Math.abs(best.t - mid)) best = r;
    return best ? Math.round(best.rate) : 0;
  };
  const p99 = (values: number[]): number => (values.length ? round(percentileSorted(sortedCopy(values), 99), 1) : 0);
  return Array.from({ length: secs }, (_, sec) => ({
    s: sec,
    reads: readLat[sec]!.length,
    readP99Ms: p99(readLat[sec]!),
    staleReads: stale[sec]!,
    saveP99Ms: p99(saveLat[sec]!),
    redisOps: at(redisRates, sec),
    pgXacts: at(pgRates, sec),
    harnessLoopDelayMs: round(loopDelay[sec] ?? 0, 1),
  }));
}
