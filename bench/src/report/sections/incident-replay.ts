import { INCIDENT_LABELS, INCIDENT_VARIANTS, type IncidentResult, type IncidentVariant, type VariantResult } from '../../scenarios/incident-replay/result';
import { CPU_ROLES } from '../../process-cpu';
import { spread } from '../../stats';
import { fmtMs as ms, fmtNumber as n, fmtRatio, fmtSpread, targetVerdict, verdict } from '../format';
import { INCIDENT_BURST_TARGETS } from '../targets';
import type { ReportPage } from '../report-page';
import { barChart, fmt, lineChart } from '../svg';

const VARIANT_COLORS: Record<IncidentVariant, string> = {
  'ttl-only': '#9c755f',
  'delete-on-write': '#f28e2b',
  'clear-all-on-write': '#e15759',
  'this-system': '#4e79a7',
  'this-system-cdc-yields': '#76b7b2',
};

/** One variant's value in each of its rounds (`inc.variants`, in the order they ran). */
export function roundValues(inc: IncidentResult, variant: IncidentVariant, pick: (v: VariantResult) => number): number[] {
  return inc.variants.filter((v) => v.variant === variant).map(pick);
}

/**
 * A count, p99 or ratio over the variant's rounds: the median with the rounds' range,
 * `1456 (806–2105)` (with two rounds the median is their mean, so the range says what was
 * measured); one round or equal rounds: just the value.
 */
export function acrossRounds(inc: IncidentResult, variant: IncidentVariant, pick: (v: VariantResult) => number, f: (v: number) => string = n): string {
  return fmtSpread(spread(roundValues(inc, variant, pick)), f);
}

/** The highest value over the variant's rounds (a maximum's median is no maximum). */
export function maxOverRounds(inc: IncidentResult, variant: IncidentVariant, pick: (v: VariantResult) => number): number {
  return spread(roundValues(inc, variant, pick)).max;
}

/** A ratio as ×n, 3 significant digits like every ratio of the report (×47.6, ×4.64, ×10.0). */
const xr = (r: number): string => fmtRatio(r);
/** burst ÷ pre-burst of one run. */
export const readBurstRatio = (v: VariantResult): number => v.bulkheads.readP99BurstMs / v.bulkheads.readP99PreBurstMs;
export const freeSaveBurstRatio = (v: VariantResult): number => v.bulkheads.freeSaves.burstLatencyMs.p99 / v.bulkheads.freeSaves.preBurstLatencyMs.p99;

/** Whether either of the variant's burst ratios (median of per-round ratios) misses its target. */
function missesBurstTarget(inc: IncidentResult, v: VariantResult): boolean {
  const m = (pick: (y: VariantResult) => number): number => spread(roundValues(inc, v.variant, pick)).median;
  return verdict(m(readBurstRatio), INCIDENT_BURST_TARGETS.readP99Ratio) !== 'met' || verdict(m(freeSaveBurstRatio), INCIDENT_BURST_TARGETS.freeSaveP99Ratio) !== 'met';
}

/**
 * This system's bulkhead targets, judged on the median of the per-round ratios burst ÷ pre-burst:
 * `(c) read p99 ×8.24 (target ≤ ×2.00: missed), free-save p99 ×26.0 (target ≤ ×2.00: missed)`.
 */
export function burstTargetsText(inc: IncidentResult, v: VariantResult): string {
  const judged = (pick: (y: VariantResult) => number, t: (typeof INCIDENT_BURST_TARGETS)[keyof typeof INCIDENT_BURST_TARGETS]): string => {
    const m = spread(roundValues(inc, v.variant, pick)).median;
    return `${fmtRatio(m, t.bound)} (${targetVerdict(t, verdict(m, t))})`;
  };
  return `${v.label.split(' ')[0]} read p99 ${judged(readBurstRatio, INCIDENT_BURST_TARGETS.readP99Ratio)}, free-save p99 ${judged(freeSaveBurstRatio, INCIDENT_BURST_TARGETS.freeSaveP99Ratio)}`;
}

/** Section 3: the incident replayed on four designs: panels, timelines, the table and what it shows. */
export function incidentReplaySection(inc: IncidentResult, { md, charts, img }: ReportPage): void {
  md.push('## 3. Incident replay (2021-09-23)', '');
  const bulkRows = inc.byVariant[0]?.bulk.rows ?? 0;
  md.push(
    `The incident: settings were cached for 5 minutes regardless of changes (users saw stale values); the hotfix cleared the cache after every account update, Redis was overloaded, reads fell through to PostgreSQL and saves timed out. ` +
      `Replay: ${n(inc.accounts)} accounts; Zipf(${inc.zipfS}) reads at ${inc.load.readsPerSecond}/s (the hottest 1,000 accounts get ${fmt(inc.hottest1000Share * 100)} % of them); saves at ${inc.load.normalSavesPerSecond}/s, ` +
      `then a ${inc.load.burstSeconds}-second burst at ${inc.load.burstSavesPerSecond}/s with one bulk UPDATE of all ${n(bulkRows)} rows 1 s into it, then ${inc.load.tailSeconds} s at the normal rate and ${inc.load.quiesceSeconds} s of quiet. ` +
      `Same data, same seeded traffic, same Redis and PostgreSQL for all four; deadlines 2 s (reads and saves); ${inc.rounds} interleaved round(s), order rotated. Counts, shares, p99s and ratios are medians over rounds with the rounds' range in brackets, median (min–max) — with two rounds the median is their mean, so the range is what was measured; maxima (max age, peaks) are the maximum over rounds; the timelines show each variant's first round. The baselines (bench/baselines) are plain read-through caches storing the same protobuf bytes (${inc.payloadBytes.legacy} vs ${inc.payloadBytes.service} bytes per entry).`,
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
    '| Variant | Stale reads (share) | …missed a save (max age) | …missed the bulk (max age) | Read p99 burst (outside bulk) | Save p99 burst (outside bulk) | Reads failed (timed out) | Saves failed (timed out) | PG xacts/s peak (app queries/s) | Redis cmds/s peak (CPU) | Hit ratio | Stale entries after quiet |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  );
  for (const v of vs) {
    const k = v.variant;
    const r = (pick: (y: VariantResult) => number, f: (x2: number) => string = n): string => acrossRounds(inc, k, pick, f);
    const pct = (x2: number): string => `${fmt(x2 * 100)} %`;
    md.push(
      `| ${v.label} | ${r((y) => y.stale.reads)}; ${r((y) => y.stale.share, pct)} | ${r((y) => y.stale.fromSaves.reads)} (max ${ms(maxOverRounds(inc, k, (y) => y.stale.fromSaves.maxAgeMs))}) | ${r((y) => y.stale.fromBulk.reads)} (max ${ms(maxOverRounds(inc, k, (y) => y.stale.fromBulk.maxAgeMs))}) | ` +
        `${r((y) => y.reads.burstLatencyMs.p99, ms)}; outside: ${r((y) => y.reads.burstLatencyOutsideBulkMs.p99, ms)} | ${r((y) => y.saves.burstLatencyMs.p99, ms)}; outside: ${r((y) => y.saves.burstLatencyOutsideBulkMs.p99, ms)} | ${r((y) => y.reads.errors)} (${r((y) => y.reads.timeouts)}) of ${r((y) => y.reads.total)} | ${r((y) => y.saves.errors)} (${r((y) => y.saves.timeouts)}) of ${r((y) => y.saves.total)} | ` +
        `${n(v.postgres.peakXactsPerSecond)} (${n(v.postgres.appQueriesPeakPerSecond)}) | ${n(v.redis.peakOpsPerSecond)} (${fmt(v.redis.peakCpuPercent)} %) | ${r((y) => y.cacheHitRatio, pct)} | ` +
        `${r((y) => y.staleKeysAfterQuiescence.staleKeys)} of ${r((y) => y.staleKeysAfterQuiescence.cachedKeys)} (${fmt(v.staleKeysAfterQuiescence.quiesceSeconds)} s after the load) |`,
    );
  }
  md.push(
    '',
    'Columns: a read is stale when it returned a version older than a write already acknowledged when the read started; "missed a save / the bulk" splits them by the first such write, the age is how long before the read it was acknowledged (max over rounds). "Outside" = calls in the burst that did not overlap the bulk UPDATE. Peaks are the highest over rounds. ' +
      'Latencies count a timed-out call at its 2 s deadline, and so any other failed read (it served nothing). Saves (every replayed account\'s row is one the bulk UPDATE changes): a timed-out save counts at its 2 s deadline, every other failed save at its own latency, whatever its status and whether or not it met the bulk\'s row locks (ABORTED `ROW_LOCKED`, UNAVAILABLE `LOAD_SHED`, a baseline\'s exhausted pool: failing fast is what the caller sees). Only the bulkheads table\'s free saves, to rows the bulk does not touch, count every failure at the deadline. PostgreSQL and Redis peaks are server-wide (background before the load: ' +
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
        `The TTL-only cache served ${acrossRounds(inc, a.variant, (y) => y.stale.reads)} stale reads (${fmt(a.stale.share * 100)} % of all reads, up to ${fmt(a.stale.maxAgeMs / 1000)} s old) and still held ${acrossRounds(inc, a.variant, (y) => y.staleKeysAfterQuiescence.staleKeys)} stale entries when the load stopped — they would live until their 5-minute TTL. ` +
        `Deleting on write from app code fixes that (${b.stale.reads > 0 ? `${n(b.stale.reads)} stale reads left, from fill/delete races` : 'no stale read in this run'}) at the cost of a ${fmt(b.cacheHitRatio * 100)} % hit ratio and ${n(b.postgres.peakXactsPerSecond)} PostgreSQL xacts/s at peak; clearing everything on every write — the hotfix — is perfectly fresh but drops the hit ratio to ${fmt(b2.cacheHitRatio * 100)} %, ` +
        `drives PostgreSQL to ${n(b2.postgres.peakXactsPerSecond)} xacts/s and Redis CPU to ${fmt(b2.redis.peakCpuPercent)} %, which is the incident's mechanism. ` +
        `This system keeps the hit ratio at ${fmt(c.cacheHitRatio * 100)} % and PostgreSQL at ${n(c.postgres.peakXactsPerSecond)} xacts/s, needs no cache code in the write path (the bulk update is a bare SQL statement) and leaves ${n(c.staleKeysAfterQuiescence.staleKeys)} stale entries once the invalidator has caught up. ` +
        `Its Redis command peak (${n(c.redis.peakOpsPerSecond)}/s, Redis CPU ${fmt(c.redis.peakCpuPercent)} %) is the invalidator writing the bulk's markers at its ceiling, each an EVALSHA with a GET and a SET inside. ` +
        `Its reads are stale only while a change is on its way through Debezium and Kafka: ${acrossRounds(inc, c.variant, (y) => y.stale.fromSaves.reads)} reads missed a save (max ${fmt(maxOverRounds(inc, c.variant, (y) => y.stale.fromSaves.maxAgeMs) / 1000)} s over the rounds), ${acrossRounds(inc, c.variant, (y) => y.stale.fromBulk.reads)} missed the ${n(c.bulk.rows)}-row bulk update (max ${fmt(maxOverRounds(inc, c.variant, (y) => y.stale.fromBulk.maxAgeMs) / 1000)} s): ` +
        `Debezium has to publish ${n(c.bulk.rows)} events and the invalidator applies them under its adaptive ceiling (at most ${'`EVICTION_MAX_KEYS_PER_SECOND`'} keys/s, lower while Redis round trips get slow), so a bulk invalidation cannot overload Redis. Callers that must see their own write use \`at_least_as_fresh\` with the write's consistency token (not exercised here: these are \`minimize_latency\` reads).`,
      '',
      `**Latency during the burst is mostly the bulk UPDATE's, not the cache's.** The single UPDATE of ${n(c.bulk.rows)} rows (${vs.map((v) => fmt(v.bulk.statementMs / 1000)).join(' / ')} s here, the variants in the table's order) holds every row lock until it commits and loads both cores; saves to those rows queue behind it, as in the incident, and reads that miss the cache wait for PostgreSQL while it runs (burst p99s, failed and timed-out calls per variant: the table above; how much of it times out depends on the machine's speed). ` +
        `Afterwards PostgreSQL, Debezium and Kafka still work through ${n(c.bulk.rows)} change events on two cores for several seconds, which this system's reads share the cores with. ` +
        'This system runs saves on a pool of their own with a `lock_timeout`, saves a free row in one statement, lets at most `DB_LOCK_WAIT_MAX_CONCURRENCY` saves wait for a row lock (more fail at once with ABORTED `ROW_LOCKED`) and refuses a save at once with UNAVAILABLE `LOAD_SHED` when the saves ahead would keep it waiting for a connection past its deadline (both with a RetryInfo), and cache-miss reads never wait for a connection a save holds (see the bulkheads table below).',
      '',
    );
  }
  const cy = vs.find((v) => v.variant === 'this-system-cdc-yields');
  if (c && cy) md.push(cdcYieldsParagraph(inc, c, cy), '');
  md.push(
    '',
    `Bulk UPDATE of ${n(bulkRows)} rows: ${vs.map((v) => `${v.variant} ${ms(v.bulk.statementMs)}`).join(', ')} (statement plus, for the baselines, their app-side invalidation).`,
    '',
  );
  bulkheadsTable(inc, vs, md);
  cpuTable(vs, md);
}

/** (c) against (c′): what the burst does to this system when it does not share its cores with the CDC pipeline. */
function cdcYieldsParagraph(inc: IncidentResult, c: VariantResult, cy: VariantResult): string {
  const cdcYield = inc.cdcYield;
  const r = (v: VariantResult): string => acrossRounds(inc, v.variant, readBurstRatio, xr);
  const f = (v: VariantResult): string => acrossRounds(inc, v.variant, freeSaveBurstRatio, xr);
  const per = (v: VariantResult, pick: (y: VariantResult) => number, fm: (x2: number) => string = n): string => acrossRounds(inc, v.variant, pick, fm);
  const who = cdcYield ? `${cdcYield.roles.join(', ')} at autogroup nice ${cdcYield.nice}` : 'the CDC pipeline at a lower CPU weight';
  return (
    `**(c′): the same system when the CDC pipeline yields the cores** (${who}, a weight of 110 against 1,024: what separate nodes or CPU requests give the settings pods in Kubernetes; PostgreSQL keeps its weight, as it serves the reads that miss and the saves, and runs the bulk UPDATE). ` +
    `Per-round medians (min–max), (c) → (c′): burst read p99 ${r(c)} → ${r(cy)} of pre-burst (${per(cy, (y) => y.bulkheads.readP99PreBurstMs, ms)} → ${per(cy, (y) => y.bulkheads.readP99BurstMs, ms)}), free saves ${f(c)} → ${f(cy)}, ` +
    `locked saves timed out ${per(c, (y) => y.bulkheads.lockedSaves.timeouts)} → ${per(cy, (y) => y.bulkheads.lockedSaves.timeouts)}, their p99 ${per(c, (y) => y.bulkheads.lockedSaves.latencyMs.p99, ms)} → ${per(cy, (y) => y.bulkheads.lockedSaves.latencyMs.p99, ms)}; ` +
    `stale reads ${per(c, (y) => y.stale.reads)} → ${per(cy, (y) => y.stale.reads)}; the bulk UPDATE itself ${per(c, (y) => y.bulk.statementMs / 1000, fmt)} → ${per(cy, (y) => y.bulk.statementMs / 1000, fmt)} s. ` +
    `Targets (median of per-round ratios): ${burstTargetsText(inc, c)}; ${burstTargetsText(inc, cy)}. ` +
    (missesBurstTarget(inc, cy)
      ? 'Locked saves then fail fast instead of timing out, but burst p99 still misses the ×2 target: PostgreSQL runs the 100k-row UPDATE, decodes it for Debezium and serves the reads that miss (the Zipf tail, then every key the bulk evicted) on the same two cores as the service and the load generator.'
      : 'Locked saves then fail fast instead of timing out, and both burst p99s stay within ×2 of pre-burst.')
  );
}

/**
 * The bulkheads of issue 11, per variant: read p99 and the p99 of saves to rows the bulk UPDATE
 * does not touch, before the burst against during it; and the saves that met the bulk's row
 * locks. Targets for this system: both ratios ≤ 2, locked saves ABORTED within lock_timeout + 50 ms.
 */
function bulkheadsTable(inc: IncidentResult, vs: readonly VariantResult[], md: string[]): void {
  const withBulkheads = vs.filter((v) => v.bulkheads !== undefined);
  if (withBulkheads.length === 0) return;
  md.push(
    '**Bulkheads: does the burst spill over?** Pre-burst = the last half of the warm phase (cache warm); burst = the whole burst including the bulk UPDATE. ' +
      'Free saves go to 200 rows outside the bulk UPDATE (20/s for the whole run). Locked saves = saves to the bulk\'s rows that started while its UPDATE ran; their latency counts every one, failed or not (how fast the caller learns). ' +
      'This system runs saves on their own pool with its default `DB_LOCK_TIMEOUT_MS` (250 ms); the baselines share one pool and wait for the lock until their deadline. "Other" is UNAVAILABLE: this system\'s `LOAD_SHED` for a save that would have waited for a connection past its deadline (retryable, answered at once), a baseline\'s exhausted pool. ' +
      'Every cell is the median over rounds with the rounds\' range (min–max); a ratio is the median of the per-round ratios.',
    '',
    '| Variant | Read p99 pre-burst → burst (÷) | Free-save p99 pre-burst → burst (÷) | Free saves failed | Locked saves | …OK / ABORTED / timed out / other | …p99 latency | …p99 of the ABORTED ones |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
  );
  for (const v of withBulkheads) {
    const r = (pick: (y: VariantResult) => number, f: (x2: number) => string = n): string => acrossRounds(inc, v.variant, pick, f);
    const l = v.bulkheads.lockedSaves;
    md.push(
      `| ${v.label} | ${r((y) => y.bulkheads.readP99PreBurstMs, ms)} → ${r((y) => y.bulkheads.readP99BurstMs, ms)} (${r(readBurstRatio, xr)}) | ` +
        `${r((y) => y.bulkheads.freeSaves.preBurstLatencyMs.p99, ms)} → ${r((y) => y.bulkheads.freeSaves.burstLatencyMs.p99, ms)} (${r(freeSaveBurstRatio, xr)}) | ${r((y) => y.bulkheads.freeSaves.errors)} of ${r((y) => y.bulkheads.freeSaves.total)} | ` +
        `${r((y) => y.bulkheads.lockedSaves.total)} | ${r((y) => y.bulkheads.lockedSaves.ok)} / ${r((y) => y.bulkheads.lockedSaves.aborted)} / ${r((y) => y.bulkheads.lockedSaves.timeouts)} / ${r((y) => y.bulkheads.lockedSaves.otherErrors)} | ` +
        `${r((y) => y.bulkheads.lockedSaves.latencyMs.p99, ms)} | ${l.abortedLatencyMs && l.aborted > 0 ? r((y) => y.bulkheads.lockedSaves.abortedLatencyMs?.p99 ?? Number.NaN, ms) : '–'} |`,
    );
  }
  const ours = withBulkheads.filter((v) => v.variant === 'this-system' || v.variant === 'this-system-cdc-yields');
  if (ours.length > 0) md.push('', `Targets for this system, burst ÷ pre-burst ≤ ×2 (median of per-round ratios): ${ours.map((v) => burstTargetsText(inc, v)).join('; ')}.`);
  md.push('');
  const waited = withBulkheads.flatMap((v) => (v.writePoolWait && v.writePoolWait.waits > 0 ? [{ v, w: v.writePoolWait }] : []));
  if (waited.length > 0) {
    md.push(
      "**Where this system's saves waited.** Its saves' waits for a write connection over the whole load (`settings_db_pool_wait_seconds{pool=\"write\"}`): a save answered late after a short wait spent its time in PostgreSQL, one after a long wait in the pool's queue. " +
        waited
          .map(({ v, w }) => {
            const r = (pick: (pw: NonNullable<VariantResult['writePoolWait']>) => number, f: (x2: number) => string): string => acrossRounds(inc, v.variant, (y) => (y.writePoolWait ? pick(y.writePoolWait) : Number.NaN), f);
            return `${v.label}: ${r((pw) => pw.waits, n)} waits, mean ${r((pw) => pw.meanMs, ms)}, ${r((pw) => pw.longerShare * 100, fmt)} % longer than ${ms(w.longerThanMs)}`;
          })
          .join('; ') +
        '.',
      '',
    );
  }
}

/** Cores per role before and in the burst: how much of the machine the service had. */
function cpuTable(vs: readonly VariantResult[], md: string[]): void {
  // Results from before this was measured have no cpuCores.
  const withCpu = vs.filter((v) => v.cpuCores !== undefined);
  if (withCpu.length === 0) return;
  const cores = (x: number): string => (Number.isFinite(x) ? x.toFixed(2) : 'n/a');
  const total = (r: Record<string, number>): number => Object.values(r).reduce((a, b) => a + (Number.isFinite(b) ? b : 0), 0);
  md.push(
    '**What shared the two cores.** Cores used on average (CPU seconds per second of every process and thread in the role, from `/proc/<pid>/stat`), pre-burst → burst (the windows of the table above). ' +
      '"Service" is the variant\'s own server: the settings service for this system, the legacy server for a baseline; the load generator is the harness process sending the reads and saves; ' +
      'the bulk job runs the bulk UPDATE (its work is done inside PostgreSQL). Kafka Connect is Debezium streaming the changes, the same for every variant.',
    '',
    `| Process | ${withCpu.map((v) => v.label).join(' | ')} |`,
    `| --- | ${withCpu.map(() => '---').join(' | ')} |`,
  );
  for (const role of CPU_ROLES) md.push(`| ${role} | ${withCpu.map((v) => `${cores(v.cpuCores.preBurst[role])} → ${cores(v.cpuCores.burst[role])}`).join(' | ')} |`);
  md.push(`| **all of the above** | ${withCpu.map((v) => `${cores(total(v.cpuCores.preBurst))} → ${cores(total(v.cpuCores.burst))}`).join(' | ')} |`, '');
}
