import type { BenchResults } from '../results';
import type { IncidentVariant, VariantResult } from '../scenarios/incident-replay/result';
import { WATCH_GOALS } from '../scenarios/watch/result';
import { fmtMs as ms, fmtNumber as n, fmtRatio as x } from './format';
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
      ratio: x(rp.ratios.cachedRps),
    });
    out.push({
      what: 'Cached Get latency p50 / p99 (one stream)',
      value: `${ms(rp.byTarget.cached.singleP50Ms)} / ${ms(rp.byTarget.cached.singleP99Ms)}`,
      reference: `empty handler ${ms(rp.byTarget.empty.singleP50Ms)} / ${ms(rp.byTarget.empty.singleP99Ms)}`,
      ratio: `${x(rp.ratios.cachedSingleP50)} / ${x(rp.ratios.cachedSingleP99)}`,
    });
    out.push({
      what: 'Cached Get throughput with the near-cache off (every call reads Redis, concurrent calls share an MGET)',
      value: `${n(rp.byTarget.cachedL1Off.rps)} req/s`,
      reference: `empty grpc-js handler ${n(rp.byTarget.empty.rps)} req/s`,
      ratio: x(rp.ratios.cachedL1OffRps),
    });
    out.push({
      what: 'fully_consistent Get (PostgreSQL) throughput',
      value: `${n(rp.byTarget.consistent.rps)} req/s, p99 ${ms(rp.byTarget.consistent.p99Ms)} saturated`,
      reference: `empty handler ${n(rp.byTarget.empty.rps)} req/s`,
      ratio: x(rp.ratios.consistentRps),
    });
  }
  const nf = r.notFound;
  if (nf) {
    out.push({
      what: 'Get of a name with no row (NOT_FOUND), saturated: absence cached / not cached (`CACHE_NOT_FOUND_TTL_SECONDS=0`)',
      value: `${n(nf.byTarget.absent.rps)} / ${n(nf.byTarget.absentUncached.rps)} req/s; PostgreSQL reads per request ${nf.byTarget.absent.postgresReadsPerRequest} / ${nf.byTarget.absentUncached.postgresReadsPerRequest}`,
      reference: `cached Get of an existing name ${n(nf.byTarget.cached.rps)} req/s`,
      ratio: `${x(nf.ratios.absentRps)} / ${x(nf.ratios.absentUncachedRps)}`,
    });
  }
  const lag = r.invalidationLag;
  if (lag) {
    for (const b of lag.byRate) {
      out.push({
        what: `Invalidation lag commit → evicted at ${n(b.writesPerSecond)} writes/s (p50 / p99)`,
        value: `${ms(b.commitToEvicted.p50)} / ${ms(b.commitToEvicted.p99)}`,
        reference: `of which commit → Kafka p99 ${ms(b.commitToKafka.p99)}`,
        ratio: '',
      });
    }
  }
  const ev = r.evictionThroughput;
  if (ev) {
    out.push({
      what: 'Eviction throughput, rate ceiling off',
      value: `${n(ev.median.invalidatorKeysPerSecond)} keys/s`,
      reference: `redis-benchmark SET -P 16: ${n(ev.median.redisBenchmarkSetPerSecond)}/s`,
      ratio: x(ev.median.ratio),
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
      value: `${ef.median.lean.invalidatorCpuMicrosPerEvent} / ${ef.median.nested.invalidatorCpuMicrosPerEvent} µs`,
      reference: `drain ${n(ef.median.lean.invalidatorKeysPerSecond)} / ${n(ef.median.nested.invalidatorKeysPerSecond)} keys/s; Connect ${ef.median.lean.connectCpuMicrosPerEvent} / ${ef.median.nested.connectCpuMicrosPerEvent} µs per event`,
      ratio: x(ef.ratios.invalidatorCpuPerEvent),
    });
  }
  const bulk = r.bulkDrain;
  if (bulk) {
    out.push({
      what: `Bulk UPDATE of ${n(bulk.rows)} rows: commit → last key evicted`,
      value: `${bulk.median.commitToLastEvictedSeconds} s`,
      reference:
        `Debezium ${n(bulk.median.debeziumEventsPerSecond)} events/s, invalidator ${n(bulk.median.invalidatorKeysPerSecond)} keys/s; cached-read p99 ${ms(bulk.median.baselineReadP99Ms)} → ${ms(bulk.median.drainReadP99Ms)} (invalidator alone ${ms(bulk.median.invalidatorOnlyReadP99Ms)})` +
        (bulk.medianCdcYields ? `; CDC pipeline yielding the cores: p99 ${ms(bulk.medianCdcYields.baselineReadP99Ms)} → ${ms(bulk.medianCdcYields.drainReadP99Ms)} (${x(bulk.medianCdcYields.readP99Ratio)}), ${bulk.medianCdcYields.commitToLastEvictedSeconds} s to the last eviction` : ''),
      ratio: x(bulk.median.readP99Ratio),
    });
  }
  const inc = r.incidentReplay;
  if (inc) {
    const v = (k: IncidentVariant): VariantResult | undefined => inc.byVariant.find((x2) => x2.variant === k);
    const a = v('ttl-only');
    const b = v('delete-on-write');
    const b2 = v('clear-all-on-write');
    const c = v('this-system');
    if (a && b && b2 && c) {
      const four = (f: (v: VariantResult) => string): string => [a, b, b2, c].map(f).join(' / ');
      out.push({
        what: 'Incident replay: stale reads (TTL-only / delete-on-write / clear-all / this system)',
        value: four((v) => n(v.stale.reads)),
        reference: `max age ${four((v) => ms(v.stale.maxAgeMs))}; this system: ${n(c.stale.fromSaves.reads)} after saves, ${n(c.stale.fromBulk.reads)} after the bulk`,
        ratio: '',
      });
      out.push({
        what: 'Incident replay: peak PostgreSQL xacts/s (same four)',
        value: four((v) => n(v.postgres.peakXactsPerSecond)),
        reference: `hit ratio ${four((v) => `${fmt(v.cacheHitRatio * 100)} %`)}`,
        ratio: '',
      });
      out.push({
        what: 'Incident replay: peak Redis commands/s (same four)',
        value: four((v) => n(v.redis.peakOpsPerSecond)),
        reference: `Redis CPU peak ${four((v) => `${fmt(v.redis.peakCpuPercent)} %`)}`,
        ratio: '',
      });
      out.push({
        what: 'Incident replay: read p99 / save p99 in the burst, outside the bulk UPDATE (same four)',
        value: `${four((v) => ms(v.reads.burstLatencyOutsideBulkMs.p99))}; saves ${four((v) => ms(v.saves.burstLatencyOutsideBulkMs.p99))}`,
        reference: `whole burst: reads ${four((v) => ms(v.reads.burstLatencyMs.p99))}; saves ${four((v) => ms(v.saves.burstLatencyMs.p99))}`,
        ratio: '',
      });
      out.push({
        what: 'Incident replay: stale cache entries after the load (same four)',
        value: four((v) => n(v.staleKeysAfterQuiescence.staleKeys)),
        reference: `checked ${four((v) => `${fmt(v.staleKeysAfterQuiescence.quiesceSeconds)} s`)} after the last write`,
        ratio: '',
      });
    }
    if (c) {
      // Issue 11's bulkheads: burst ÷ pre-burst, with equal CPU weights and (c′) with the CDC pipeline yielding.
      const cy = v('this-system-cdc-yields');
      const both = cy ? [c, cy] : [c];
      const bh = (y: VariantResult): VariantResult['bulkheads'] => y.bulkheads;
      const locked = (y: VariantResult): string => {
        const l = bh(y).lockedSaves;
        return `p99 ${ms(l.latencyMs.p99)}${l.abortedLatencyMs && l.aborted > 0 ? ` (ABORTED ${ms(l.abortedLatencyMs.p99)})` : ''}, ${n(l.timeouts)} of ${n(l.total)} timed out`;
      };
      out.push({
        what: `Incident replay, this system: read p99 / free-save p99 in the burst ÷ pre-burst (equal CPU weights${cy ? ' / CDC pipeline yielding the cores' : ''})`,
        value: both.map((y) => `${x(bh(y).readP99BurstMs / bh(y).readP99PreBurstMs)} / ${x(bh(y).freeSaves.burstLatencyMs.p99 / bh(y).freeSaves.preBurstLatencyMs.p99)}`).join('; '),
        reference: `locked saves ${both.map(locked).join('; ')}; goal ≤ ×2, ABORTED within lock_timeout + 50 ms`,
        ratio: '',
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
        what: `RSS of the ${name}, ${fmt(mem.soakSeconds)} s soak under load (start → end, max)`,
        value: `${fmt(st.startMiB)} → ${fmt(st.endMiB)} MiB, max ${fmt(st.maxMiB)} MiB`,
        reference: `slope ${st.slopeMiBPerMinute >= 0 ? '+' : ''}${st.slopeMiBPerMinute.toFixed(2)} MiB/min after warm-up`,
        ratio: st.verdict,
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
