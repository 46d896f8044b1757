import type { BenchResults } from '../index';
import { INCIDENT_LABELS, INCIDENT_VARIANTS, type IncidentVariant, type VariantResult } from '../scenarios/incident-replay';
import { READ_TARGET_LABELS } from '../scenarios/read-path';
import { barChart, fmt, lineChart, PALETTE } from './svg';

const VARIANT_COLORS: Record<IncidentVariant, string> = {
  'ttl-only': '#9c755f',
  'delete-on-write': '#f28e2b',
  'clear-all-on-write': '#e15759',
  'this-system': '#4e79a7',
};

const x = (r: number): string => (Number.isFinite(r) ? `×${r >= 10 ? r.toFixed(0) : r >= 1 ? r.toFixed(2) : r.toFixed(3)}` : 'n/a');
const ms = (v: number): string => fmt(v, 'ms');
const n = (v: number): string => fmt(v);

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
      what: 'fully_consistent Get (PostgreSQL) throughput',
      value: `${n(rp.byTarget.consistent.rps)} req/s, p99 ${ms(rp.byTarget.consistent.p99Ms)} saturated`,
      reference: `empty handler ${n(rp.byTarget.empty.rps)} req/s`,
      ratio: x(rp.ratios.consistentRps),
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

function headlineTable(r: BenchResults): string {
  const rows = headlines(r);
  return ['| Measure | Result | Reference (same run) | Ratio |', '| --- | --- | --- | --- |', ...rows.map((h) => `| ${h.what} | ${h.value} | ${h.reference} | ${h.ratio} |`)].join('\n');
}

/** Plain-text summary for the console. */
export function headline(r: BenchResults): string {
  return headlines(r)
    .map((h) => `${h.what}: ${h.value}  [${h.reference}]${h.ratio ? `  ${h.ratio}` : ''}`)
    .join('\n');
}

function readmeSnippet(r: BenchResults): string {
  const rp = r.readPath;
  const lag = r.invalidationLag;
  const ev = r.evictionThroughput;
  const inc = r.incidentReplay;
  const lines = [
    '## Performance',
    '',
    `Measured by \`npm run bench\` against the real local stack (PostgreSQL, Redis, Kafka + Debezium) on ${r.machine.nproc} shared cores; medians of interleaved runs, ratios taken within the same run. Full report: [\`bench/results/REPORT.md\`](bench/results/REPORT.md).`,
    '',
  ];
  if (rp) lines.push(`- **Cached reads**: ${n(rp.byTarget.cached.rps)} Get/s (${x(rp.ratios.cachedRps)} of an empty grpc-js handler on the same machine), p99 ${ms(rp.byTarget.cached.singleP99Ms)} on one stream.`);
  if (lag) lines.push(`- **Invalidation lag** (commit → key evicted, through Debezium and Kafka): ${lag.byRate.map((b) => `p99 ${ms(b.commitToEvicted.p99)} at ${n(b.writesPerSecond)} writes/s`).join(', ')}.`);
  if (ev) lines.push(`- **Eviction throughput** with the ceiling off: ${n(ev.median.invalidatorKeysPerSecond)} keys/s (${x(ev.median.ratio)} of pipelined redis-benchmark SET).`);
  if (inc) {
    const c = inc.byVariant.find((v) => v.variant === 'this-system');
    const b2 = inc.byVariant.find((v) => v.variant === 'clear-all-on-write');
    const a = inc.byVariant.find((v) => v.variant === 'ttl-only');
    if (c && b2 && a)
      lines.push(
        `- **Incident replay** (${n(inc.accounts)} accounts, a save burst and a ${n(c.bulk.rows)}-row bulk update): stale reads ${n(a.stale.reads)} with a 5-minute TTL cache vs ${n(c.stale.reads)} here; peak PostgreSQL ${n(b2.postgres.peakXactsPerSecond)} xacts/s and a ${fmt(b2.cacheHitRatio * 100)} % hit ratio with the clear-all hotfix vs ${n(c.postgres.peakXactsPerSecond)} xacts/s and ${fmt(c.cacheHitRatio * 100)} % here; no stale entry left once the invalidator caught up (${n(a.staleKeysAfterQuiescence.staleKeys)} with the TTL cache).`,
      );
  }
  if (r.memory) {
    const m = r.memory;
    const v = (st: typeof m.settings): string => (st.verdict === 'no growth' ? 'no growth' : st.verdict === 'growing' ? `growing ${st.slopeMiBPerMinute.toFixed(2)} MiB/min` : 'soak too short to judge');
    lines.push(`- **Memory** over a ${fmt(m.soakSeconds / 60)}-minute soak under load: settings service ${fmt(m.settings.maxMiB)} MiB RSS max (${v(m.settings)}), invalidator ${fmt(m.invalidator.maxMiB)} MiB max (${v(m.invalidator)}).`);
  }
  lines.push('', 'Reproduce: `npm run bench` (about 20 minutes; `BENCH_QUICK=1 npm run bench` for a smoke run).');
  return lines.join('\n');
}

export function renderReport(r: BenchResults, chartDir: string): { markdown: string; charts: Record<string, string> } {
  const charts: Record<string, string> = {};
  const img = (file: string, alt: string): string => `![${alt}](${chartDir}/${file})`;
  const md: string[] = [];
  md.push('# Settings cache — benchmark report', '');
  md.push(
    `Run \`${r.runId}\` (${r.mode} mode), ${r.startedAt} → ${r.finishedAt} (${Math.round(r.durationSeconds / 60)} min). ` +
      `Every number comes from the real local stack; each comparison was measured in the same run, interleaved, and the numbers are medians over the repetitions.`,
    '',
  );
  if (r.mode === 'quick') md.push('> **Quick mode**: a smoke run of a few seconds per scenario with small data. Do not quote these numbers.', '');
  md.push('## Headline', '', headlineTable(r), '');
  if (r.retries.length)
    md.push('**Scenarios repeated in this run** (first attempt failed or was disturbed by the shared stack; only the repeat is reported):', '', ...r.retries.map((e) => `- ${e.scenario}: ${e.message}`), '');
  if (r.errors.length) md.push('**Scenarios that failed in this run:**', '', ...r.errors.map((e) => `- ${e.scenario}: ${e.message}`), '');

  md.push('## Machine and versions', '');
  md.push('| | |', '| --- | --- |');
  md.push(`| CPU | ${r.machine.nproc} × ${r.machine.cpuModel} (shared, noisy) |`);
  md.push(`| Memory | ${r.machine.memoryGiB} GiB |`);
  md.push(`| OS | ${r.machine.os}, kernel ${r.machine.kernel} |`);
  md.push(`| Load average at start | ${r.machine.loadAverageAtStart.join(' ')} |`);
  md.push(`| Node.js | ${r.versions.node} (grpc-js ${r.versions.grpcJs}) |`);
  md.push(`| PostgreSQL | ${r.versions.postgres} |`);
  md.push(`| Redis | ${r.versions.redis} |`);
  md.push(`| Kafka | ${r.versions.kafka} (KRaft, one broker) |`);
  md.push(`| Debezium | ${r.versions.debezium} (PostgreSQL connector, pgoutput) |`);
  md.push(`| h2load | nghttp2 ${r.versions.h2load} |`, '');

  const rp = r.readPath;
  if (rp) {
    md.push('## 1. Read path: cached Get vs an empty gRPC handler', '');
    md.push(
      `h2load sends the same pre-encoded GetAccountSettings request (${rp.requestBytes.cached} bytes + 5-byte gRPC frame; ${rp.requestBytes.consistent} bytes for fully_consistent) to ` +
        `the settings service and to an empty grpc-js server that answers with the same ${rp.responseBytes}-byte response at once. ` +
        `Saturated: ${rp.load.clients} connections × ${rp.load.streams} streams for ${rp.load.saturateSeconds} s; one stream: 1 connection, 1 request at a time for ${rp.load.latencySeconds} s. ` +
        `${rp.load.rounds} interleaved rounds, order rotated each round. h2load cannot read gRPC status trailers, so a counted run of 1,000 requests per target checked that every response carried exactly one ${rp.responseBytes}-byte message (an error carries none): ${rp.responsesVerified ? 'yes' : '**NO — see results.json**'}. ` +
        `Cache hit share during the cached runs: ${fmt(rp.cacheHitShareDuringCachedRuns * 100)} %. Settings service RSS max during the runs: ${rp.serviceRssMaxMiB} MiB.`,
      '',
    );
    const t = rp.byTarget;
    charts['read-throughput.svg'] = barChart({
      title: 'Get throughput, saturated (median of rounds)',
      unit: 'req/s',
      groups: (['empty', 'cached', 'consistent'] as const).map((k, i) => ({
        label: READ_TARGET_LABELS[k].replace(/ \(.*\)$/, ''),
        bars: [{ label: k, value: t[k].rps, color: PALETTE[i]!, note: k === 'empty' ? '' : `(${x(k === 'cached' ? rp.ratios.cachedRps : rp.ratios.consistentRps)})` }],
      })),
    });
    charts['read-latency.svg'] = barChart({
      title: 'Get latency, one stream (median of rounds)',
      unit: 'ms',
      legend: [
        { label: 'p50', color: PALETTE[0]! },
        { label: 'p99', color: PALETTE[1]! },
      ],
      groups: (['empty', 'cached', 'consistent'] as const).map((k) => ({
        label: READ_TARGET_LABELS[k].replace(/ \(.*\)$/, ''),
        bars: [
          { label: 'p50', value: t[k].singleP50Ms, color: PALETTE[0]! },
          { label: 'p99', value: t[k].singleP99Ms, color: PALETTE[1]! },
        ],
      })),
    });
    md.push(img('read-throughput.svg', 'Get throughput'), '', img('read-latency.svg', 'Get latency'), '');
    md.push('| Target | Saturated req/s | Saturated p50 | Saturated p99 | One-stream req/s | One-stream p50 | One-stream p99 |', '| --- | --- | --- | --- | --- | --- | --- |');
    for (const k of ['empty', 'cached', 'consistent'] as const)
      md.push(`| ${READ_TARGET_LABELS[k]} | ${n(t[k].rps)} | ${ms(t[k].p50Ms)} | ${ms(t[k].p99Ms)} | ${n(t[k].singleRps)} | ${ms(t[k].singleP50Ms)} | ${ms(t[k].singleP99Ms)} |`);
    md.push(
      '',
      `Ratios (median of per-round ratios, settings service ÷ empty handler): cached throughput ${x(rp.ratios.cachedRps)}, cached one-stream p50 ${x(rp.ratios.cachedSingleP50)}, p99 ${x(rp.ratios.cachedSingleP99)}; fully_consistent throughput ${x(rp.ratios.consistentRps)}, one-stream p50 ${x(rp.ratios.consistentSingleP50)}.`,
      '',
    );
  }

  const lag = r.invalidationLag;
  if (lag) {
    md.push('## 2. Invalidation lag: commit → key evicted', '');
    md.push(
      `Steady UPDATEs of account settings at each rate (open loop, ${r.sizes.lag.accounts} accounts round-robin), through Debezium → Kafka → a real invalidator process (own consumer group, positioned at the topic end, default ceiling ${n(lag.invalidatorMaxOpsPerSecond)} ops/s). ` +
        `commit = \`source.ts_ms\` (PostgreSQL commit time); Kafka = the record timestamp (Connect's produce time); evicted = when the harness first saw the marker (MGET every ${lag.pollIntervalMs} ms, so up to ~${lag.pollIntervalMs} ms of resolution). Medians over ${r.sizes.lag.rounds} interleaved rounds.`,
      '',
    );
    charts['invalidation-lag.svg'] = barChart({
      title: 'Invalidation lag, commit → evicted',
      subtitle: 'split: commit → Kafka record, Kafka record → marker in Redis',
      unit: 'ms',
      legend: [
        { label: 'commit → Kafka', color: PALETTE[4]! },
        { label: 'Kafka → evicted', color: PALETTE[1]! },
        { label: 'end to end', color: PALETTE[0]! },
      ],
      groups: lag.byRate.flatMap((b) =>
        (['p50', 'p95', 'p99'] as const).map((p) => ({
          label: `${n(b.writesPerSecond)} writes/s, ${p}`,
          bars: [
            { label: 'commit → Kafka', value: b.commitToKafka[p], color: PALETTE[4]! },
            { label: 'Kafka → evicted', value: b.kafkaToEvicted[p], color: PALETTE[1]! },
            { label: 'end to end', value: b.commitToEvicted[p], color: PALETTE[0]! },
          ],
        })),
      ),
    });
    md.push(img('invalidation-lag.svg', 'Invalidation lag'), '');
    md.push('| Writes/s (achieved) | commit → Kafka p50 / p95 / p99 | Kafka → evicted p50 / p95 / p99 | commit → evicted p50 / p95 / p99 |', '| --- | --- | --- | --- |');
    for (const b of lag.byRate) {
      const f = (s: { p50: number; p95: number; p99: number }): string => `${ms(s.p50)} / ${ms(s.p95)} / ${ms(s.p99)}`;
      md.push(`| ${n(b.writesPerSecond)} (${n(b.achievedWritesPerSecond)}) | ${f(b.commitToKafka)} | ${f(b.kafkaToEvicted)} | ${f(b.commitToEvicted)} |`);
    }
    const missing = lag.runs.reduce((a, b) => a + b.notEvicted, 0);
    md.push('', `Writes never seen evicted: ${missing} of ${lag.runs.reduce((a, b) => a + b.writes, 0)}.`, '');
  }

  const ev = r.evictionThroughput;
  if (ev) {
    md.push('## 4. Eviction throughput: invalidator vs Redis itself', '');
    md.push(
      `A backlog of ${n(ev.rows)} change events (one bulk UPDATE, published by Debezium at ~${n(ev.debeziumEventsPerSecond)} events/s) is drained by a fresh invalidator process with \`REDIS_MAX_OPS_PER_SECOND=0\`; ` +
        `each round re-reads the same backlog with a new consumer group after deleting the previous round's markers. Reference, interleaved with it: \`${ev.redisBenchmarkCommand}\` (pipelined SET, its own db). ${ev.rounds.length} rounds.`,
      '',
    );
    charts['eviction-throughput.svg'] = barChart({
      title: 'Keys written per second (median of rounds)',
      unit: 'ops/s',
      groups: [
        { label: 'invalidator (ceiling off)', bars: [{ label: 'invalidator', value: ev.median.invalidatorKeysPerSecond, color: PALETTE[0]!, note: `(${x(ev.median.ratio)})` }] },
        { label: 'redis-benchmark SET -P 16', bars: [{ label: 'redis-benchmark', value: ev.median.redisBenchmarkSetPerSecond, color: PALETTE[7]! }] },
      ],
    });
    md.push(img('eviction-throughput.svg', 'Eviction throughput'), '');
    md.push('| Round | Invalidator keys/s | Events/s | Drain s | redis-benchmark SET/s | Ratio |', '| --- | --- | --- | --- | --- | --- |');
    for (const rr of ev.rounds) md.push(`| ${rr.round} | ${n(rr.invalidatorKeysPerSecond)} | ${n(rr.invalidatorEventsPerSecond)} | ${rr.drainSeconds} | ${n(rr.redisBenchmarkSetPerSecond)} | ${x(rr.ratio)} |`);
    md.push('');
  }

  const inc = r.incidentReplay;
  if (inc) incidentSection(inc, md, charts, img);

  const mem = r.memory;
  if (mem) {
    md.push('## 5. Memory under load and soak', '');
    md.push(
      `Both services as their own processes (\`node dist/src/main.js\`), RSS from \`/proc/<pid>/status\` (VmRSS) every second for ${fmt(mem.soakSeconds)} s under steady load: ` +
        `h2load Gets at ${mem.load.h2loadReadRps}/s (${n(mem.load.h2loadRequests)} served), harness Gets over 2000 accounts at ${mem.load.harnessReadsPerSecond}/s (misses and fills), saves at ${mem.load.writesPerSecond}/s (${n(mem.load.writes)} done, ${mem.load.writeErrors} failed) which the invalidator evicts.`,
      '',
    );
    charts['memory-soak.svg'] = lineChart({
      title: 'Resident memory during the soak',
      xLabel: 'seconds',
      yLabel: 'RSS (MiB)',
      series: [
        { name: 'settings service', color: PALETTE[0], points: mem.series.map((p) => [p.s, p.settingsMiB]) },
        { name: 'invalidator', color: PALETTE[1], points: mem.series.map((p) => [p.s, p.invalidatorMiB]) },
      ],
    });
    md.push(img('memory-soak.svg', 'RSS over the soak'), '');
    md.push('| Process | Start (after 10 % warm-up) | End | Max | Mean | Slope after warm-up | Verdict |', '| --- | --- | --- | --- | --- | --- | --- |');
    for (const [name, st] of [
      ['settings service', mem.settings],
      ['invalidator', mem.invalidator],
    ] as const)
      md.push(`| ${name} | ${fmt(st.startMiB)} MiB | ${fmt(st.endMiB)} MiB | ${fmt(st.maxMiB)} MiB | ${fmt(st.meanMiB)} MiB | ${st.slopeMiBPerMinute.toFixed(3)} MiB/min | ${st.verdict === 'growing' ? '**growing**' : st.verdict} |`);
    md.push('', '"Growing" would need the median RSS of the last quarter to exceed that of the second quarter by more than 5 % and the slope after warm-up to add more than 10 % of the mean per hour; single GC spikes do neither.', '');
  }

  md.push('## For the root README', '', 'Paste under "Performance":', '', '```markdown', readmeSnippet(r), '```', '');
  md.push('## Caveats', '');
  md.push(
    '- **Shared, noisy machine.** Two cores run PostgreSQL, Redis, Kafka, Kafka Connect, the services, the load generators and sometimes other engineers\' tests. Absolute numbers move between runs; the ratios (measured side by side, interleaved) are the numbers to compare.',
    '- **Server-wide counters.** Redis ops/s (INFO `total_commands_processed`) and PostgreSQL xacts/s (`pg_stat_database.xact_commit`) count every client of the shared stack; each variant reports the background rate measured just before it. PostgreSQL flushes its counters about once a second per backend, so PostgreSQL peaks use 2-second windows. The app-side counts (legacy caches: exact; this system: derived from its Prometheus metrics) are in the JSON.',
    '- **Stale reads are judged conservatively**: a write counts from the moment the harness saw it acknowledged (saves) or the executor saw the UPDATE return (bulk), so the real staleness windows are slightly longer, never shorter.',
    '- **Baselines are best-case**: the delete-on-write baseline also deletes every key of the bulk update from app code (a real ORM bulk `update()` would typically skip the hook and leave them stale until the TTL).',
    '- **The incident\'s scale is not reproduced**: the same mechanisms on a small machine. The point is the shape (what each design does to Redis, PostgreSQL and freshness under the same load), not production numbers.',
    '- **Isolation**: the benchmark caches in Redis db 7 (services, baselines, redis-benchmark) with its own key prefixes and deletes its own keys, rows (`bench-<run>-…`) and consumer groups afterwards; nothing is flushed or truncated.',
    '',
  );
  md.push('## Files', '', '- `results.json`: everything above, machine-readable; one JSON per scenario beside it.', `- \`${chartDir}/*.svg\`: the charts.`, '- `raw/<run>/`: service logs of the run (git-ignored).', '');
  return { markdown: md.join('\n'), charts };
}

function incidentSection(inc: NonNullable<BenchResults['incidentReplay']>, md: string[], charts: Record<string, string>, img: (f: string, a: string) => string): void {
  md.push('## 3. Incident replay (2021-09-23)', '');
  const bulkRows = inc.byVariant[0]?.bulk.rows ?? 0;
  md.push(
    `The incident: settings were cached for 5 minutes regardless of changes (users saw stale values); the hotfix cleared the cache after every account update, Redis was overloaded, reads fell through to PostgreSQL and saves timed out. ` +
      `Replay: ${n(inc.accounts)} accounts; Zipf(${inc.zipfS}) reads at ${inc.load.readsPerSecond}/s (the hottest 1,000 accounts get ${fmt(inc.hottest1000Share * 100)} % of them); saves at ${inc.load.normalSavesPerSecond}/s, ` +
      `then a ${inc.load.burstSeconds}-second burst at ${inc.load.burstSavesPerSecond}/s with one bulk UPDATE of all ${n(bulkRows)} rows 1 s into it, then ${inc.load.tailSeconds} s at the normal rate and ${inc.load.quiesceSeconds} s of quiet. ` +
      `Same data, same seeded traffic, same Redis and PostgreSQL for all four; deadlines 2 s (reads and saves); ${inc.rounds} interleaved round(s), order rotated, numbers are medians over rounds (the timelines show round 1). The baselines (bench/baselines) are plain read-through caches storing the same protobuf bytes (${inc.payloadBytes.legacy} vs ${inc.payloadBytes.service} bytes per entry).`,
    '',
  );
  const vs = INCIDENT_VARIANTS.map((k) => inc.byVariant.find((v) => v.variant === k)).filter((v): v is VariantResult => v !== undefined);
  const panel = (file: string, title: string, unit: string, value: (v: VariantResult) => number, note?: (v: VariantResult) => string): void => {
    charts[file] = barChart({
      title,
      unit,
      width: 620,
      groups: vs.map((v) => ({ label: INCIDENT_LABELS[v.variant], bars: [{ label: v.variant, value: value(v), color: VARIANT_COLORS[v.variant], note: note?.(v) }] })),
    });
  };
  panel('incident-stale-reads.svg', 'Stale reads (returned a version older than an acknowledged write)', 'reads', (v) => v.stale.reads, (v) => `(max age ${ms(v.stale.maxAgeMs)})`);
  panel('incident-pg-peak.svg', 'Peak PostgreSQL transactions/s', 'xacts/s', (v) => v.postgres.peakXactsPerSecond);
  panel('incident-redis-peak.svg', 'Peak Redis commands/s', 'ops/s', (v) => v.redis.peakOpsPerSecond, (v) => `(Redis CPU peak ${fmt(v.redis.peakCpuPercent)} %)`);
  panel('incident-read-p99.svg', 'Read p99 during the burst', 'ms', (v) => v.reads.burstLatencyMs.p99);
  panel('incident-save-p99.svg', 'Save p99 during the burst', 'ms', (v) => v.saves.burstLatencyMs.p99, (v) => (v.saves.timeouts ? `(${v.saves.timeouts} timed out)` : ''));
  panel('incident-stale-keys.svg', `Stale cache entries ${inc.load.quiesceSeconds} s after the last write`, 'keys', (v) => v.staleKeysAfterQuiescence.staleKeys);
  md.push(
    '<table><tr>',
    `<td>${img('incident-stale-reads.svg', 'stale reads')}</td><td>${img('incident-stale-keys.svg', 'stale keys')}</td>`,
    '</tr><tr>',
    `<td>${img('incident-pg-peak.svg', 'PostgreSQL peak')}</td><td>${img('incident-redis-peak.svg', 'Redis peak')}</td>`,
    '</tr><tr>',
    `<td>${img('incident-read-p99.svg', 'read p99')}</td><td>${img('incident-save-p99.svg', 'save p99')}</td>`,
    '</tr></table>',
    '',
  );
  const first = vs[0];
  const bands = first ? [{ from: inc.load.warmSeconds, to: inc.load.warmSeconds + inc.load.burstSeconds, label: 'burst + bulk update' }] : [];
  const timeline = (file: string, title: string, yLabel: string, pick: (p: VariantResult['timeline'][number]) => number): void => {
    charts[file] = lineChart({
      title,
      xLabel: 'seconds since the load started',
      yLabel,
      bands,
      series: vs.map((v) => ({ name: INCIDENT_LABELS[v.variant], color: VARIANT_COLORS[v.variant], points: v.timeline.map((p) => [p.s, pick(p)] as [number, number]) })),
    });
  };
  timeline('incident-timeline-pg.svg', 'PostgreSQL transactions per second', 'xacts/s', (p) => p.pgXacts);
  timeline('incident-timeline-stale.svg', 'Stale reads per second', 'stale reads/s', (p) => p.staleReads);
  timeline('incident-timeline-read-p99.svg', 'Read p99 per second', 'ms', (p) => p.readP99Ms);
  timeline('incident-timeline-redis.svg', 'Redis commands per second (server-wide)', 'ops/s', (p) => p.redisOps);
  md.push(img('incident-timeline-stale.svg', 'stale reads over time'), '', img('incident-timeline-pg.svg', 'PostgreSQL over time'), '', img('incident-timeline-read-p99.svg', 'read p99 over time'), '', img('incident-timeline-redis.svg', 'Redis over time'), '');
  md.push(
    '| Variant | Stale reads (share) | …missed a save (max age) | …missed the bulk (max age) | Read p99 burst (outside bulk) | Save p99 burst (outside bulk) | Saves failed (timed out) | PG xacts/s peak (app queries/s) | Redis cmds/s peak (CPU) | Hit ratio | Stale entries after quiet |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  );
  for (const v of vs) {
    md.push(
      `| ${v.label} | ${n(v.stale.reads)} (${fmt(v.stale.share * 100)} %) | ${n(v.stale.fromSaves.reads)} (${ms(v.stale.fromSaves.maxAgeMs)}) | ${n(v.stale.fromBulk.reads)} (${ms(v.stale.fromBulk.maxAgeMs)}) | ` +
        `${ms(v.reads.burstLatencyMs.p99)} (${ms(v.reads.burstLatencyOutsideBulkMs.p99)}) | ${ms(v.saves.burstLatencyMs.p99)} (${ms(v.saves.burstLatencyOutsideBulkMs.p99)}) | ${n(v.saves.errors)} (${n(v.saves.timeouts)}) of ${n(v.saves.total)} | ` +
        `${n(v.postgres.peakXactsPerSecond)} (${n(v.postgres.appQueriesPeakPerSecond)}) | ${n(v.redis.peakOpsPerSecond)} (${fmt(v.redis.peakCpuPercent)} %) | ${fmt(v.cacheHitRatio * 100)} % | ` +
        `${n(v.staleKeysAfterQuiescence.staleKeys)} of ${n(v.staleKeysAfterQuiescence.cachedKeys)} (${fmt(v.staleKeysAfterQuiescence.quiesceSeconds)} s after the load) |`,
    );
  }
  md.push(
    '',
    'Columns: a read is stale when it returned a version older than a write already acknowledged when the read started; "missed a save / the bulk" splits them by the first such write, the age is how long before the read it was acknowledged. ' +
      'Latencies count a timed-out call at its 2 s deadline. PostgreSQL and Redis peaks are server-wide (background before the load: ' +
      vs.map((v) => `${n(v.postgres.backgroundXactsPerSecond)} xacts/s, ${n(v.redis.backgroundOpsPerSecond)} cmds/s`).filter((x2, i, a2) => a2.indexOf(x2) === i).join('; ') +
      '); Redis counts the commands inside Lua scripts too (the fenced fill and the eviction are EVALSHA + GET + SET). Stale entries: cached versions older than the row, checked after the quiet period (for this system: until its invalidator had caught up with Kafka).',
    '',
  );
  const c = vs.find((v) => v.variant === 'this-system');
  const a = vs.find((v) => v.variant === 'ttl-only');
  const b2 = vs.find((v) => v.variant === 'clear-all-on-write');
  const b = vs.find((v) => v.variant === 'delete-on-write');
  if (a && b && b2 && c) {
    md.push(
      '**What it shows.** ' +
        `The TTL-only cache served ${n(a.stale.reads)} stale reads (${fmt(a.stale.share * 100)} % of all reads, up to ${fmt(a.stale.maxAgeMs / 1000)} s old) and still held ${n(a.staleKeysAfterQuiescence.staleKeys)} stale entries when the load stopped — they would live until their 5-minute TTL. ` +
        `Deleting on write from app code fixes that (${b.stale.reads > 0 ? `${n(b.stale.reads)} stale reads left, from fill/delete races` : 'no stale read in this run'}) at the cost of a ${fmt(b.cacheHitRatio * 100)} % hit ratio and ${n(b.postgres.peakXactsPerSecond)} PostgreSQL xacts/s at peak; clearing everything on every write — the hotfix — is perfectly fresh but drops the hit ratio to ${fmt(b2.cacheHitRatio * 100)} %, ` +
        `drives PostgreSQL to ${n(b2.postgres.peakXactsPerSecond)} xacts/s and Redis CPU to ${fmt(b2.redis.peakCpuPercent)} %, which is the incident's mechanism. ` +
        `This system keeps the hit ratio at ${fmt(c.cacheHitRatio * 100)} % and PostgreSQL at ${n(c.postgres.peakXactsPerSecond)} xacts/s, needs no cache code in the write path (the bulk update is a bare SQL statement) and leaves ${n(c.staleKeysAfterQuiescence.staleKeys)} stale entries once the invalidator has caught up. ` +
        `Its Redis command peak (${n(c.redis.peakOpsPerSecond)}/s, Redis CPU ${fmt(c.redis.peakCpuPercent)} %) is the invalidator writing the bulk's markers at its ceiling, each an EVALSHA with a GET and a SET inside. ` +
        `Its reads are stale only while a change is on its way through Debezium and Kafka: ${n(c.stale.fromSaves.reads)} reads missed a save (max ${fmt(c.stale.fromSaves.maxAgeMs / 1000)} s), ${n(c.stale.fromBulk.reads)} missed the ${n(c.bulk.rows)}-row bulk update (max ${fmt(c.stale.fromBulk.maxAgeMs / 1000)} s): ` +
        `Debezium has to publish ${n(c.bulk.rows)} events and the invalidator applies them at its ${'`REDIS_MAX_OPS_PER_SECOND`'} ceiling, deliberately spreading a bulk invalidation over seconds instead of hitting Redis at once. Callers that must see their own write use \`at_least_as_fresh\` with the write's consistency token (not exercised here: these are \`minimize_latency\` reads).`,
      '',
      `**Latency during the burst is the bulk UPDATE's, not the cache's.** The single UPDATE of ${n(c.bulk.rows)} rows (${vs.map((v) => fmt(v.bulk.statementMs / 1000)).join(' / ')} s here, ~4 s on an idle machine) holds every row lock until it commits; saves to those rows queue behind it (most of the burst's saves time out in every variant, as in the incident) and each queued save holds one of the app's 10 PostgreSQL connections, so reads that miss the cache wait for a connection too and hit the 2 s deadline. ` +
        `That is why read p99 reaches the deadline in all four (least often in the TTL-only cache, which misses least), and why the designs differ in PostgreSQL load, freshness and hit ratio rather than in burst p99. Afterwards PostgreSQL, Debezium and Kafka still work through ${n(c.bulk.rows)} change events on two cores for several seconds. ` +
        'The settings service shares one pool between reads and writes, so the same thing happens to it; a separate (or capped) pool for writes would keep cache-miss reads out of that queue.',
      '',
    );
  }
  md.push(
    '',
    `Bulk UPDATE of ${n(bulkRows)} rows: ${vs.map((v) => `${v.variant} ${ms(v.bulk.statementMs)}`).join(', ')} (statement plus, for the baselines, their app-side invalidation).`,
    '',
  );
}
