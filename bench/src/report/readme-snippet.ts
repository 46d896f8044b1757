import type { BenchResults } from '../results';
import { fmtBound, fmtJudged, fmtMs as ms, fmtNumber as n, fmtRatio as x } from './format';
import { acrossRounds } from './sections/incident-replay';
import { memoryVerdictText } from './sections/memory';
import { judgeReadPath, READ_PATH_TARGETS } from './sections/read-path';
import { EVICTION_RATIO_TARGET, lagP99Target } from './targets';
import { fmt } from './svg';

/** The "Performance" section for the root README, from this run's numbers. */
export function readmeSnippet(r: BenchResults): string {
  const rp = r.readPath;
  const lag = r.invalidationLag;
  const ev = r.evictionThroughput;
  const inc = r.incidentReplay;
  const lines = [
    '## Performance',
    '',
    `Measured by \`npm run bench\` against the real local stack (PostgreSQL, Redis, Kafka + Debezium) on ${r.machine.nproc} shared cores; medians over repeated rounds, ratios taken within the same run. Full report: [\`bench/results/REPORT.md\`](bench/results/REPORT.md).`,
    '',
  ];
  if (rp) {
    const t = READ_PATH_TARGETS.cachedRps;
    const j = judgeReadPath(rp, 'cachedRps');
    lines.push(
      `- **Cached reads**: ${n(rp.byTarget.cached.rps)} Get/s, ${x(j.medianOfRatios, t.bound)} of an empty grpc-js handler on the same machine by the median of per-round ratios, ${x(j.ratioOfMedians, t.bound)} by the ratio of medians (target ${t.op} ${fmtBound(t)} on both: ${j.verdict}; ${j.roundsMet} of ${j.rounds} rounds met it); p99 ${ms(rp.byTarget.cached.singleP99Ms)} on one stream.`,
    );
  }
  if (lag)
    lines.push(
      `- **Invalidation lag** (commit → key evicted, through Debezium and Kafka): ${lag.byRate
        .map((b) => {
          const t = lagP99Target(b.writesPerSecond);
          return `p99 ${t ? fmtJudged(b.commitToEvicted.p99, t) : ms(b.commitToEvicted.p99)} at ${n(b.writesPerSecond)} writes/s`;
        })
        .join(', ')}.`,
    );
  if (ev) lines.push(`- **Eviction throughput** with the ceiling off: ${n(ev.median.invalidatorKeysPerSecond)} keys/s, ${fmtJudged(ev.median.ratio, EVICTION_RATIO_TARGET)} of pipelined redis-benchmark SET.`);
  if (inc) {
    const c = inc.byVariant.find((v) => v.variant === 'this-system');
    const b2 = inc.byVariant.find((v) => v.variant === 'clear-all-on-write');
    const a = inc.byVariant.find((v) => v.variant === 'ttl-only');
    if (c && b2 && a)
      lines.push(
        `- **Incident replay** (${n(inc.accounts)} accounts, a save burst and a ${n(c.bulk.rows)}-row bulk update): stale reads ${acrossRounds(inc, a.variant, (y) => y.stale.reads)} with a 5-minute TTL cache vs ${acrossRounds(inc, c.variant, (y) => y.stale.reads)} here (median and range of ${n(inc.rounds)} rounds); peak PostgreSQL ${n(b2.postgres.peakXactsPerSecond)} xacts/s and a ${fmt(b2.cacheHitRatio * 100)} % hit ratio with the clear-all hotfix vs ${n(c.postgres.peakXactsPerSecond)} xacts/s and ${fmt(c.cacheHitRatio * 100)} % here; no stale entry left once the invalidator caught up (${n(a.staleKeysAfterQuiescence.staleKeys)} with the TTL cache).`,
      );
  }
  if (r.memory) {
    const m = r.memory;
    const v = (st: typeof m.settings): string => memoryVerdictText(st, m.soakSeconds).replace(/\*\*/g, '');
    lines.push(`- **Memory** over a ${fmt(m.soakSeconds / 60)}-minute soak under load: settings service ${fmt(m.settings.maxMiB)} MiB RSS max (${v(m.settings)}), invalidator ${fmt(m.invalidator.maxMiB)} MiB max (${v(m.invalidator)}).`);
  }
  lines.push('', 'Reproduce: `npm run bench` (about 30 minutes; `BENCH_QUICK=1 npm run bench` for a smoke run).');
  return lines.join('\n');
}
