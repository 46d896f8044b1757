import type { BenchResults } from '../results';
import type { IncidentVariant, VariantResult } from '../scenarios/incident-replay/result';
import { WATCH_GOALS } from '../scenarios/watch/result';
import { fmtDecimal, fmtJudged, fmtMs as ms, fmtNumber as n, fmtRatio as x, targetVerdict, verdict } from './format';
import { readTargetText } from './sections/read-path';
import { invalidatorAloneText, readP99RatioText } from './sections/bulk-drain';
import { measuredRounds } from '../scenarios/bulk-drain-result';
import { spread } from '../stats';
import { acrossRounds, burstTargetsText, freeSaveBurstRatio, readBurstRatio } from './sections/incident-replay';
import { memoryVerdictText, postWarmupText, slopePerHourText } from './sections/memory';
import { BULK_TARGETS, EVICTION_RATIO_TARGET, lagP99Target } from './targets';
import { fmt } from './svg';

/** One line per headline number; shared by REPORT.md, the README snippet and the console. */
interface Headline {
  what: string;
  value: string;
  reference: string;
  ratio: string;
}

function headlines(r: BenchResults): Headline[] {
  const out: Headline[] = [];
  const rp = r.readPath;
  if (rp) {
    out.push({
      what: 'Cached Get throughput (h2load, saturated)',
      value: `${n(rp.byTarget.cached.rps)} req/s`,
      reference: `empty grpc-js handler ${n(rp.byTarget.empty.rps)} req/s`,
      ratio: readTargetText(rp, 'cachedRps'),
    });
    out.push({
      what: 'Cached Get latency p50 / p99 (one stream)',
      value: `${ms(rp.byTarget.cached.singleP50Ms)} / ${ms(rp.byTarget.cached.singleP99Ms)}`,
      reference: `empty handler ${ms(rp.byTarget.empty.singleP50Ms)} / ${ms(rp.byTarget.empty.singleP99Ms)}`,
      ratio: `p50 ${x(rp.ratios.cachedSingleP50)} (median of per-round ratios) / p99 ${readTargetText(rp, 'cachedSingleP99', false)}`,
    });
    out.push({
      what: 'Cached Get throughput with the near-cache off (every call reads Redis, concurrent calls share an MGET)',
      value: `${n(rp.byTarget.cachedL1Off.rps)} req/s`,
      reference: `empty grpc-js handler ${n(rp.byTarget.empty.rps)} req/s`,
      ratio: readTargetText(rp, 'cachedL1OffRps'),
    });
    out.push({
      // h2load counts every answered call: the per-caller limit's RESOURCE_EXHAUSTED refusals
      // (held ~100 ms before they are answered, which is most of this p99) are among them.
      what: 'fully_consistent Get (PostgreSQL) throughput, one caller: answered calls, RESOURCE_EXHAUSTED refusals of its per-caller limit included (§1 counts them)',
      value: `${n(rp.byTarget.consistent.rps)} req/s, p99 ${ms(rp.byTarget.consistent.p99Ms)} saturated`,
      reference: `empty handler ${n(rp.byTarget.empty.rps)} req/s`,
      ratio: x(rp.ratios.consistentRps),
    });
  }
  const nf = r.notFound;
  if (nf) {
    out.push({
      what: 'Get of a name with no row (NOT_FOUND), saturated: absence cached / not cached (`CACHE_NOT_FOUND_TTL_SECONDS=0`)',
      value: `${n(nf.byTarget.absent.rps)} / ${n(nf.byTarget.absentUncached.rps)} req/s; PostgreSQL reads per request ${fmtDecimal(nf.byTarget.absent.postgresReadsPerRequest, 4)} / ${fmtDecimal(nf.byTarget.absentUncached.postgresReadsPerRequest, 4)}`,
      reference: `cached Get of an existing name ${n(nf.byTarget.cached.rps)} req/s`,
      ratio: `${x(nf.ratios.absentRps)} / ${x(nf.ratios.absentUncachedRps)}`,
    });
  }
  const lag = r.invalidationLag;
  if (lag) {
    for (const b of lag.byRate) {
      const t = lagP99Target(b.writesPerSecond);
      out.push({
        what: `Invalidation lag commit → evicted at ${n(b.writesPerSecond)} writes/s (p50 / p99, medians of rounds)`,
        value: `${ms(b.commitToEvicted.p50)} / ${ms(b.commitToEvicted.p99)}`,
        reference: `of which commit → Kafka p99 ${ms(b.commitToKafka.p99)}`,
        ratio: t ? `p99 ${targetVerdict(t, verdict(b.commitToEvicted.p99, t))}` : '',
      });
    }
  }
  const ev = r.evictionThroughput;
  if (ev) {
    out.push({
      what: 'Eviction throughput, rate ceiling off',
      value: `${n(ev.median.invalidatorKeysPerSecond)} keys/s`,
      reference: `redis-benchmark SET -P 16 ${ev.redisBenchmarkCommand.includes(' -r ') ? 'on random keys' : 'on one key'}: ${n(ev.median.redisBenchmarkSetPerSecond)}/s`,
      ratio: `${fmtJudged(ev.median.ratio, EVICTION_RATIO_TARGET)}, median of per-round ratios`,
    });
    const rm = ev.replicatedMedian;
    if (rm) {
      out.push({
        what: `Eviction throughput, rate ceiling off, ${rm.replicas} invalidator replicas`,
        value: `${n(rm.keysPerSecond)} keys/s`,
        reference: `${x(rm.speedup)} of one invalidator in the same rounds`,
        ratio: x(rm.ratio),
      });
    }
  }
  const ef = r.eventFormat;
  if (ef) {
    out.push({
      what: 'Change-event format: invalidator CPU per event, lean / nested',
      value: `${fmtDecimal(ef.median.lean.invalidatorCpuMicrosPerEvent, 2)} / ${fmtDecimal(ef.median.nested.invalidatorCpuMicrosPerEvent, 2)} µs`,
      reference: `drain ${n(ef.median.lean.invalidatorKeysPerSecond)} / ${n(ef.median.nested.invalidatorKeysPerSecond)} keys/s; Connect ${fmtDecimal(ef.median.lean.connectCpuMicrosPerEvent, 2)} / ${fmtDecimal(ef.median.nested.connectCpuMicrosPerEvent, 2)} µs per event`,
      ratio: x(ef.ratios.invalidatorCpuPerEvent),
    });
  }
  const bulk = r.bulkDrain;
  if (bulk) {
    const equal = measuredRounds(bulk.rounds, false);
    const yielding = measuredRounds(bulk.rounds, true);
    const evicted = spread(equal.map((x2) => x2.commitToLastEvictedSeconds));
    const y = bulk.medianCdcYields;
    out.push({
      what: `Bulk UPDATE of ${n(bulk.rows)} rows: commit → last key evicted (median of ${n(equal.length)} rounds)`,
      value: `${fmtJudged(bulk.median.commitToLastEvictedSeconds, BULK_TARGETS.commitToLastEvictedSeconds, evicted.n > 1 ? `rounds ${fmtDecimal(evicted.min)}–${fmtDecimal(evicted.max)} s` : '')}`,
      reference:
        `Debezium ${n(bulk.median.debeziumEventsPerSecond)} events/s, invalidator ${n(bulk.median.invalidatorKeysPerSecond)} keys/s (medians); cached-read p99 drain ÷ baseline ${readP99RatioText(bulk.median, equal)}; invalidator alone: ${invalidatorAloneText(equal)}` +
        (y && yielding.length > 0 ? `; CDC pipeline yielding the cores: ${readP99RatioText(y, yielding)}, ${fmtDecimal(y.commitToLastEvictedSeconds)} s to the last eviction` : ''),
      ratio: `read p99 drain ÷ baseline ${fmtJudged(bulk.median.readP99Ratio, BULK_TARGETS.readP99Ratio)}`,
    });
  }
  const inc = r.incidentReplay;
  if (inc) {
    const v = (k: IncidentVariant): VariantResult | undefined => inc.byVariant.find((x2) => x2.variant === k);
    // Counts and p99s: the median over rounds with the rounds' range; maxima: the maximum over rounds (byVariant).
    const per = (y: VariantResult, pick: (z: VariantResult) => number, f: (x2: number) => string = n): string => acrossRounds(inc, y.variant, pick, f);
    const a = v('ttl-only');
    const b = v('delete-on-write');
    const b2 = v('clear-all-on-write');
    const c = v('this-system');
    const cy = v('this-system-cdc-yields');
    if (a && b && b2 && c) {
      const four = (f: (v: VariantResult) => string): string => [a, b, b2, c].map(f).join(' / ');
      out.push({
        what: `Incident replay: stale reads (TTL-only / delete-on-write / clear-all / this system${cy ? '; (c′) CDC yielding' : ''}), median (min–max) of ${n(inc.rounds)} rounds`,
        value: four((y) => per(y, (z) => z.stale.reads)) + (cy ? `; ${per(cy, (z) => z.stale.reads)}` : ''),
        reference:
          `max age over rounds ${four((y) => ms(y.stale.maxAgeMs))}; this system: ${per(c, (z) => z.stale.fromSaves.reads)} after saves (max ${ms(c.stale.fromSaves.maxAgeMs)}), ${per(c, (z) => z.stale.fromBulk.reads)} after the bulk (max ${ms(c.stale.fromBulk.maxAgeMs)})` +
          (cy ? `; (c′): ${per(cy, (z) => z.stale.fromSaves.reads)} after saves (max ${ms(cy.stale.fromSaves.maxAgeMs)}), ${per(cy, (z) => z.stale.fromBulk.reads)} after the bulk (max ${ms(cy.stale.fromBulk.maxAgeMs)})` : ''),
        ratio: '',
      });
      out.push({
        what: 'Incident replay: peak PostgreSQL xacts/s, highest of the rounds (same four)',
        value: four((y) => n(y.postgres.peakXactsPerSecond)),
        reference: `hit ratio ${four((y) => per(y, (z) => z.cacheHitRatio * 100, (p) => `${fmt(p)} %`))}`,
        ratio: '',
      });
      out.push({
        what: 'Incident replay: peak Redis commands/s, highest of the rounds (same four)',
        value: four((y) => n(y.redis.peakOpsPerSecond)),
        reference: `Redis CPU peak ${four((y) => `${fmt(y.redis.peakCpuPercent)} %`)}`,
        ratio: '',
      });
      out.push({
        what: 'Incident replay: read p99 / save p99 in the burst, outside the bulk UPDATE (same four)',
        value: `${four((y) => per(y, (z) => z.reads.burstLatencyOutsideBulkMs.p99, ms))}; saves ${four((y) => per(y, (z) => z.saves.burstLatencyOutsideBulkMs.p99, ms))}`,
        reference:
          `whole burst: reads ${four((y) => per(y, (z) => z.reads.burstLatencyMs.p99, ms))}; saves ${four((y) => `${per(y, (z) => z.saves.burstLatencyMs.p99, ms)} [${per(y, (z) => z.saves.errors)} failed, ${per(y, (z) => z.saves.timeouts)} timed out]`)} ` +
          '(failed saves: over the whole load, not only the burst; a timed-out save counts at its 2 s deadline, any other failed save at its own latency)',
        ratio: '',
      });
      out.push({
        what: 'Incident replay: stale cache entries after the load (same four)',
        value: four((y) => per(y, (z) => z.staleKeysAfterQuiescence.staleKeys)),
        reference: `checked ${four((y) => `${fmt(y.staleKeysAfterQuiescence.quiesceSeconds)} s`)} after the last write`,
        ratio: '',
      });
    }
    if (c) {
      // Issue 11's bulkheads: burst ÷ pre-burst, with equal CPU weights and (c′) with the CDC pipeline yielding.
      const both = cy ? [c, cy] : [c];
      const xr = (r2: number): string => x(r2);
      const locked = (y: VariantResult): string => {
        const l = y.bulkheads.lockedSaves;
        return (
          `p99 ${per(y, (z) => z.bulkheads.lockedSaves.latencyMs.p99, ms)}` +
          (l.abortedLatencyMs && l.aborted > 0 ? ` (ABORTED ${per(y, (z) => z.bulkheads.lockedSaves.aborted)}, their p99 ${per(y, (z) => z.bulkheads.lockedSaves.abortedLatencyMs?.p99 ?? Number.NaN, ms)})` : '') +
          `, ${per(y, (z) => z.bulkheads.lockedSaves.timeouts)} of ${per(y, (z) => z.bulkheads.lockedSaves.total)} timed out`
        );
      };
      out.push({
        what: `Incident replay, this system: read p99 / free-save p99 in the burst ÷ pre-burst, median of per-round ratios (equal CPU weights${cy ? ' / CDC pipeline yielding the cores' : ''})`,
        value: both.map((y) => `${per(y, readBurstRatio, xr)} / ${per(y, freeSaveBurstRatio, xr)}`).join('; '),
        reference: `locked saves ${both.map(locked).join('; ')}; goal for locked saves: ABORTED within lock_timeout + 50 ms`,
        ratio: both.map((y) => burstTargetsText(inc, y)).join('; '),
      });
    }
  }
  const watch = r.watch;
  if (watch) {
    const l = watch.latency;
    out.push({
      what: `Watch: commit → watcher at ${n(l.targetWritesPerSecond)} writes/s, ${n(l.watchers)} watchers (p50 / p99)`,
      value: `${ms(l.median.commitToWatcher.p50)} / ${ms(l.median.commitToWatcher.p99)}`,
      reference: `commit → marker p99 ${ms(l.median.commitToMarker.p99)}; goal p99 ≤ ${WATCH_GOALS.pushP99Ms} ms; ${n(l.totals.coalesced)} coalesced, ${n(l.totals.missed)} missed`,
      ratio: l.pass ? 'pass' : 'FAIL',
    });
    for (const m of watch.memory)
      out.push({
        what: `Watch: RSS of one replica with ${n(m.watchers)} idle watchers on ${n(m.distinctKeys)} keys`,
        value: `${fmt(m.rssAfterMiB)} MiB`,
        reference: `${fmt(m.rssBeforeMiB)} MiB idle, ${fmt(m.perWatcherKiB)} KiB per watcher; goal ≤ ${WATCH_GOALS.idleRssMiB} MiB`,
        ratio: m.pass ? 'pass' : 'FAIL',
      });
    for (const s of watch.storms)
      out.push({
        what: `Watch: ${n(s.watchers)} streams ${s.variant === 'cold' ? 'opening at once on cold keys' : 'reconnecting at once (resume tokens)'}, PostgreSQL reads per distinct key`,
        value: s.readsPerKey.toFixed(3),
        reference: `${n(s.postgresReads)} reads for ${n(s.distinctKeys)} keys, all ready in ${fmt(s.secondsToAllReady)} s; goal ≤ ${WATCH_GOALS.readsPerKey}`,
        ratio: s.pass ? 'pass' : 'FAIL',
      });
  }
  const rc = r.redisCluster;
  if (rc) {
    const rd = rc.reads.byTarget;
    out.push({
      what: 'Redis Cluster (3 masters): cached Get throughput, near-cache off / on',
      value: `${n(rd.clusterL1Off.rps)} / ${n(rd.cluster.rps)} req/s`,
      reference: `single Redis ${n(rd.singleL1Off.rps)} / ${n(rd.single.rps)} req/s`,
      ratio: `${x(rc.reads.ratios.rpsL1Off)} / ${x(rc.reads.ratios.rps)}`,
    });
    out.push({
      what: 'Redis Cluster (3 masters): eviction throughput, rate ceiling off',
      value: `${n(rc.eviction.byTarget.cluster.keysPerSecond)} keys/s`,
      reference: `single Redis ${n(rc.eviction.byTarget.single.keysPerSecond)} keys/s`,
      ratio: x(rc.eviction.keysPerSecondRatio),
    });
  }
  const mem = r.memory;
  if (mem) {
    for (const [name, st] of [
      ['settings service', mem.settings],
      ['invalidator', mem.invalidator],
    ] as const) {
      out.push({
        what: `RSS of the ${name}, ${fmt(mem.soakSeconds)} s soak under load (start = median of the first minute after the 10 % warm-up → end; max)`,
        value: `${postWarmupText(st)}, max ${fmt(st.maxMiB)} MiB`,
        reference: `slope after warm-up ${slopePerHourText(st)} (${fmt(st.slopePerHourShareOfMean * 100)} % of the mean ${fmt(st.meanMiB)} MiB per hour)`,
        ratio: memoryVerdictText(st, mem.soakSeconds),
      });
    }
  }
  return out;
}

export function headlineTable(r: BenchResults): string {
  const rows = headlines(r);
  return ['| Measure | Result | Reference (same run) | Ratio |', '| --- | --- | --- | --- |', ...rows.map((h) => `| ${h.what} | ${h.value} | ${h.reference} | ${h.ratio} |`)].join('\n');
}

/** Plain-text summary for the console. */
export function headline(r: BenchResults): string {
  return headlines(r)
    .map((h) => `${h.what}: ${h.value}  [${h.reference}]${h.ratio ? `  ${h.ratio}` : ''}`)
    .join('\n');
}
