import type { EvictionResult } from '../../scenarios/eviction-throughput';
import { fmtJudged, fmtNumber as n, fmtRatio as x } from '../format';
import { EVICTION_RATIO_TARGET } from '../targets';
import type { ReportPage } from '../report-page';
import { barChart, PALETTE } from '../svg';

/**
 * What a stored redis-benchmark command line measured, in words, from its flags and
 * redis-benchmark's defaults (50 connections, no pipelining, 3-byte values, one key without -r).
 */
export function describeRedisBenchmark(command: string): string {
  const args = command.trim().split(/\s+/);
  const flag = (name: string): string | undefined => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const num = (v: string | undefined): number | undefined => (v === undefined || !Number.isFinite(Number(v)) ? undefined : Number(v));
  const tests = flag('-t') ?? 'all tests';
  const clients = num(flag('-c'));
  const pipeline = num(flag('-P'));
  const bytes = num(flag('-d'));
  const keyspace = num(flag('-r'));
  const requests = num(flag('-n'));
  return [
    `${tests.toUpperCase()} commands${requests !== undefined ? ` (${n(requests)} of them)` : ''}`,
    `from ${n(clients ?? 50)} connections${clients === undefined ? ' (its default)' : ''}`,
    pipeline !== undefined && pipeline > 1 ? `pipelined ${n(pipeline)} at a time` : 'one at a time per connection',
    `${n(bytes ?? 3)}-byte values${bytes === undefined ? ' (its default)' : ''}`,
    keyspace !== undefined ? `random keys over ${n(keyspace)} (-r ${keyspace})` : 'every one to the same key (`key:__rand_int__`: no -r)',
  ].join(', ');
}

/** Section 4: the invalidator draining a backlog with its ceiling off, against redis-benchmark. */
export function evictionThroughputSection(ev: EvictionResult, { md, charts, img }: ReportPage): void {
  md.push('## 4. Eviction throughput: invalidator vs Redis itself', '');
  md.push(
    `A backlog of ${n(ev.rows)} change events (one bulk UPDATE, published by Debezium at ~${n(ev.debeziumEventsPerSecond)} events/s) is drained by a fresh invalidator process with \`EVICTION_MAX_KEYS_PER_SECOND=0\` (no ceiling; evictions go as evict-to-marker-batch calls); ` +
      `each round re-reads the same backlog with a new consumer group after deleting the previous round's markers. Reference, run in every round after that round's invalidator drain(s) (always last: its place is not alternated): \`${ev.redisBenchmarkCommand}\` in the benchmark's db: ${describeRedisBenchmark(ev.redisBenchmarkCommand)}. ` +
      'It is what Redis takes of bare SETs on this machine, not the same work: each key the invalidator applies is an EVALSHA of the evict-to-marker script (a GET and a SET inside), batched per call, on a key of its own. ' +
      `${ev.rounds.length} rounds.`,
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
  md.push(`One invalidator ÷ redis-benchmark, median of per-round ratios: ${fmtJudged(ev.median.ratio, EVICTION_RATIO_TARGET)}.`, '');
  md.push('| Round | Invalidator keys/s | Events/s | Invalidator CPU µs/event | Drain s | redis-benchmark SET/s | Ratio |', '| --- | --- | --- | --- | --- | --- | --- |');
  for (const rr of ev.rounds) md.push(`| ${rr.round} | ${n(rr.invalidatorKeysPerSecond)} | ${n(rr.invalidatorEventsPerSecond)} | ${rr.invalidatorCpuMicrosPerEvent} | ${rr.drainSeconds} | ${n(rr.redisBenchmarkSetPerSecond)} | ${x(rr.ratio)} |`);
  md.push('');
  const rm = ev.replicatedMedian;
  if (rm) {
    md.push(
      `**Scaled out.** In every round the same backlog is also drained by ${rm.replicas} invalidator processes, each on the partitions it would own in a settled consumer group (partition p to replica p mod ${rm.replicas}; each replica's group is positioned so that only its partitions hold the backlog, so no rebalance falls inside the window). The order of the two drains alternates by round. Median: ${n(rm.keysPerSecond)} keys/s, ${x(rm.speedup)} of one invalidator in the same round, ${x(rm.ratio)} of redis-benchmark.`,
      '',
      `| Round | ${rm.replicas} invalidators keys/s | CPU µs/event (all replicas) | Drain s | ÷ one invalidator | ÷ redis-benchmark |`,
      '| --- | --- | --- | --- | --- | --- |',
    );
    for (const rr of ev.rounds) {
      const r = rr.replicated;
      if (r) md.push(`| ${rr.round} | ${n(r.keysPerSecond)} | ${r.cpuMicrosPerEvent} | ${r.drainSeconds} | ${x(r.speedup)} | ${x(r.ratio)} |`);
    }
    md.push('');
  }
}
