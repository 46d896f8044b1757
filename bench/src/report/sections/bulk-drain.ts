import type { BenchSizes } from '../../context';
import { measuredRounds, readP99RatioOf, type BulkDrainMedians, type BulkDrainResult, type BulkDrainRound, type CpuMicrosPerRow } from '../../scenarios/bulk-drain-result';
import { medianItem, spread } from '../../stats';
import { fmtDecimal as d, fmtJudged, fmtMs as ms, fmtNumber as n, fmtP99, fmtRatio as x, fmtBound, targetVerdict, verdict, type Target } from '../format';
import { BULK_TARGETS } from '../targets';
import type { ReportPage } from '../report-page';

/** The issue's bulk change end to end: commit → last key evicted, split into Debezium and invalidator. */
export function bulkDrainSection(b: BulkDrainResult, sizes: Pick<BenchSizes['bulkDrain'], 'baselineSeconds'>, { md }: ReportPage): void {
  const warmUp = b.rounds.some((r) => r.round === 0);
  const equal = measuredRounds(b.rounds, false);
  const yielding = measuredRounds(b.rounds, true);
  const failuresCounted = b.rounds.every((r) => r.readFailures !== undefined);
  md.push('## Bulk change: commit → last key evicted', '');
  md.push(
    `One \`UPDATE\` of ${n(b.rows)} account rows, committed while ${n(b.readsPerSecond)} reads/s hit ${n(b.hotAccounts)} other, cached accounts through a real settings service. ` +
      `Default configuration: one invalidator with the adaptive ceiling (hard maximum ${n(b.invalidatorMaxKeysPerSecond)} keys/s). ` +
      'Debezium is done when the topic end offsets have moved by the row count; the invalidator when its `invalidator_keys_applied_total` has. ' +
      'CPU per row (user + system of every thread, from `/proc`): Kafka Connect from the commit to the last event in Kafka, the invalidator from the commit to its last key, PostgreSQL (the UPDATE, then the walsender decoding it) from the UPDATE\'s start to the last event in Kafka; a process waiting for a core costs time, not CPU, so these move less than the rates on a shared machine. ' +
      `Cached-read latency, each read in the window in which it ended: baseline = the ${n(sizes.baselineSeconds)} s before the UPDATE began (not before its commit: the statement itself runs for seconds and loads the machine), drain = commit → last key evicted; reads that ended between the UPDATE's start and its commit are in neither window; ` +
      (failuresCounted
        ? 'a read that timed out counts at its 2 s deadline, other failed reads are counted apart. '
        : '**failed reads were left out of these latencies in this run and not counted** (a read that timed out is missing from its p99, not counted at its deadline). ') +
      'A p99 is given with its sample count; under 100 samples a nearest-rank p99 is the slowest read ("max of N"). ' +
      `The read p99 ratio is the median of the per-round ratios drain ÷ baseline (each round's pair measured minutes apart at most, on the same machine speed). ` +
      `Targets: commit → last key evicted ${targetBound(BULK_TARGETS.commitToLastEvictedSeconds)} (median of the rounds), cached-read p99 during the drain ${targetBound(BULK_TARGETS.readP99Ratio)} of the baseline (median of per-round ratios). ` +
      `${equal.length} round(s)${warmUp ? ', after a warm-up round (0: Kafka Connect compiles its change-event path as it runs it, so the first bulk change after a worker starts costs it more CPU; reported, not in the medians)' : ''}.`,
    '',
  );
  md.push(`**Equal CPU weights:** ${summary(b.median, equal)}`, '');
  const y = b.medianCdcYields;
  if (y && yielding.length > 0) {
    md.push(
      `**The same, with the CDC pipeline yielding the cores** (alternate rounds: PostgreSQL, Kafka, Kafka Connect and the invalidator at autogroup nice ${y.cdcNice}, a CPU weight of 110 against the serving path's 1,024 — what separate nodes or CPU requests give a serving pod in Kubernetes): ${summary(y, yielding)} ` +
        'Linux shares the cores between sessions (autogroups) before threads, and every component here is a session of its own: with equal weights a read that arrives while the bulk change streams waits for a core behind PostgreSQL, Connect and Kafka. The difference between the two is that wait, not the cache; what yielding costs is the time the change takes to be invalidated.',
      '',
    );
  }
  md.push(
    '| Round | CDC nice | Commit → published s | Debezium events/s | Commit → last evicted s | Invalidator keys/s | Lowest ceiling keys/s | Not evicted | Read p99 baseline | Read p99 drain | Drain ÷ baseline | Read p99 invalidator alone | Reads failed (timed out): baseline / drain | CPU µs/row: Connect / invalidator / PostgreSQL / settings |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  );
  for (const r of b.rounds) {
    const f = r.readFailures;
    md.push(
      `| ${r.round === 0 ? '0 (warm-up)' : r.round} | ${r.cdcNice ?? 0} | ${r.commitToPublishedSeconds} | ${n(r.debeziumEventsPerSecond)} | ${r.commitToLastEvictedSeconds} | ${n(r.invalidatorKeysPerSecond)} | ${n(r.minCeilingKeysPerSecond)} | ${r.notEvicted} | ` +
        `${fmtP99(r.baselineReadMs)} | ${fmtP99(r.drainReadMs)} | ${x(readP99RatioOf(r))} | ${fmtP99(r.invalidatorOnlyReadMs)} | ${f ? `${n(f.baseline.errors)} (${n(f.baseline.timeouts)}) / ${n(f.drain.errors)} (${n(f.drain.timeouts)})` : 'not counted'} | ${cpu(r.cpuMicrosPerRow)} |`,
    );
  }
  md.push('');
}

/**
 * One weighting's medians in words: the commit → Kafka and commit → evicted pair from one round
 * (the round with the median commit → last evicted), the read p99 ratio as the median of the
 * per-round ratios with their range and the baseline → drain pair of the round that gave it,
 * and the invalidator-alone p99 of every round with its sample count.
 */
function summary(m: BulkDrainMedians, rounds: readonly BulkDrainRound[]): string {
  const evictRound = medianItem(rounds, (r) => r.commitToLastEvictedSeconds);
  const evicted = evictRound
    ? `commit → last key evicted **${d(evictRound.commitToLastEvictedSeconds)} s** (the median round, ${evictRound.round}; its last event was in Kafka at ${d(evictRound.commitToPublishedSeconds)} s, Debezium ${n(evictRound.debeziumEventsPerSecond)} events/s, invalidator drain ${n(evictRound.invalidatorKeysPerSecond)} keys/s)`
    : `commit → last key evicted **${d(m.commitToLastEvictedSeconds)} s** (median; commit → last event in Kafka ${d(m.commitToPublishedSeconds)} s, Debezium ${n(m.debeziumEventsPerSecond)} events/s, invalidator ${n(m.invalidatorKeysPerSecond)} keys/s: medians of ${n(rounds.length)} rounds each, not from one round)`;
  const evictedRange = spread(rounds.map((r) => r.commitToLastEvictedSeconds));
  const evictTarget = BULK_TARGETS.commitToLastEvictedSeconds;
  return (
    `${evicted}; rounds ${d(evictedRange.min)}–${d(evictedRange.max)} s; median ${fmtJudged(m.commitToLastEvictedSeconds, evictTarget)}. ` +
    `Cached-read p99 during the drain ÷ before it: ${readP99RatioText(m, rounds)}, ${targetVerdict(BULK_TARGETS.readP99Ratio, verdict(m.readP99Ratio, BULK_TARGETS.readP99Ratio))}. ` +
    `While only the invalidator worked (last event in Kafka → last key evicted): median p99 ${ms(m.invalidatorOnlyReadP99Ms)}, from ${invalidatorAloneText(rounds)}. ` +
    `CPU per row, µs (Kafka Connect / invalidator / PostgreSQL / settings service beyond its reads, medians): ${cpu(m.cpuMicrosPerRow)}.`
  );
}

/**
 * `×21.0 (median of per-round ratios; rounds ×3.63–×27.1; round 3: 8.41 ms (n=1500) baseline →
 * 177 ms (n=1415) during the drain)`: the pair beside the ratio comes from the round that gave
 * the median ratio, or is said to be medians of separate rounds.
 */
export function readP99RatioText(m: BulkDrainMedians, rounds: readonly BulkDrainRound[]): string {
  const ratios = spread(rounds.map(readP99RatioOf));
  const ratioRound = medianItem(rounds, readP99RatioOf);
  const pair = ratioRound
    ? `round ${ratioRound.round}: ${fmtP99(ratioRound.baselineReadMs)} baseline → ${fmtP99(ratioRound.drainReadMs)} during the drain`
    : `medians of separate rounds: ${ms(m.baselineReadP99Ms)} baseline → ${ms(m.drainReadP99Ms)} during the drain`;
  return `${x(m.readP99Ratio)} (median of per-round ratios${ratios.n > 1 ? `; rounds ${x(ratios.min)}–${x(ratios.max)}` : ''}; ${pair})`;
}

/** Each round's p99 while only the invalidator worked, with its sample count. */
export const invalidatorAloneText = (rounds: readonly BulkDrainRound[]): string => rounds.map((r) => `${fmtP99(r.invalidatorOnlyReadMs)} in round ${r.round}`).join(', ');

/** `≤ 4 s`, `≤ ×2.00`: a target's bound in words. */
const targetBound = (t: Target): string => `${t.op} ${fmtBound(t)}`;

/** Runs from before this column existed have no CPU figures: a dash, not "undefined". */
const cpu = (c: CpuMicrosPerRow | undefined): string => (c ? `${n(c.connect)} / ${n(c.invalidator)} / ${n(c.postgres)} / ${c.service === undefined || !Number.isFinite(c.service) ? '–' : n(c.service)}` : '–');
