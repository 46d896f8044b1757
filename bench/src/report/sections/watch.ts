import { WATCH_GOALS, type WatchMemoryResult, type WatchResult, type WatchStormResult } from '../../scenarios/watch/result';
import { fmtMs as ms, fmtNumber as n } from '../format';
import type { ReportPage } from '../report-page';
import { fmt } from '../svg';

const verdict = (pass: boolean): string => (pass ? 'pass' : '**FAIL**');
const failures = (f: Record<string, number>): string =>
  Object.entries(f)
    .map(([code, count]) => `${n(count)} ${code}`)
    .join(', ') || 'none';
const stormWhat = (s: WatchStormResult): string => (s.variant === 'cold' ? 'opening at once on cold keys' : 'reconnecting at once with resume tokens');

/** Section 6: Watch streams against issue 13's three goals. */
export function watchSection(w: WatchResult, { md }: ReportPage): void {
  const l = w.latency;
  md.push('## 6. Watch: push latency, idle watchers, reconnect storms', '');
  md.push(
    'A settings process and an invalidator process (its own consumer group from the end of the change topics) run from their entry points; the harness holds the `WatchSettings` streams ' +
      `(grpc-js, ${n(w.limits.streamsPerConnection)} streams per connection) and writes with plain SQL UPDATEs, so a change reaches a watcher only through Debezium → invalidator marker → Redis push → the replica's re-read. ` +
      `Every replica is fresh, used once its Redis tracking is on, with stream limits raised to ${n(w.limits.maxStreams)} (insecure-dev: every stream is the one caller \`dev\`) and the default bookmark interval (${fmt(w.progressIntervalMs / 1000)} s).`,
    '',
    '| Measure | Result | Goal | Verdict |',
    '| --- | --- | --- | --- |',
    `| Commit → watcher receives, ${n(l.targetWritesPerSecond)} writes/s, ${n(l.watchers)} open watchers (p50 / p99, median of ${l.rounds.length} rounds) | ${ms(l.median.commitToWatcher.p50)} / ${ms(l.median.commitToWatcher.p99)} | p99 ≤ ${WATCH_GOALS.pushP99Ms} ms, nothing missed | ${verdict(l.pass)} |`,
  );
  for (const m of w.memory)
    md.push(`| RSS of one replica with ${n(m.watchers)} idle watchers on ${n(m.distinctKeys)} keys (idle before) | ${fmt(m.rssAfterMiB)} MiB (${fmt(m.rssBeforeMiB)} MiB) | ≤ ${WATCH_GOALS.idleRssMiB} MiB | ${verdict(m.pass)} |`);
  for (const s of w.storms)
    md.push(`| ${n(s.watchers)} watchers ${stormWhat(s)}: PostgreSQL reads ÷ ${n(s.distinctKeys)} distinct keys | ${s.readsPerKey.toFixed(3)} (${n(s.postgresReads)} reads) | ≤ ${WATCH_GOALS.readsPerKey} | ${verdict(s.pass)} |`);
  md.push('');
  latencyText(w, md);
  memoryText(w.memory, md);
  stormText(w.storms, md);
}

function latencyText({ latency: l }: WatchResult, md: string[]): void {
  const t = l.totals;
  md.push(
    `**Push latency.** ${n(l.watchers)} streams, one account each, over ${n(l.accounts)} accounts (${fmt(l.watchersPerAccount)} watchers per account); in each of ${l.rounds.length} rounds of ${fmt(l.roundSeconds)} s the writer UPDATEs the accounts round-robin at ${n(l.targetWritesPerSecond)}/s. ` +
      'Commit time = when the UPDATE returned to the harness; received = when the change message with that version reached the harness\' stream (same clock); commit → marker = when a 5 ms MGET poll first saw the invalidator\'s marker (or a newer fill). ' +
      `Of ${n(t.deliveriesExpected)} (write, watcher) pairs, ${n(t.deliveriesReceived)} were delivered with their own version, ${n(t.coalesced)} coalesced into a newer one (non-guarantee 20) and ${n(t.missed)} missed; ` +
      `${n(t.finalMissing)} times a watcher did not end a round on its account's final version. Server push lag = the replica's own \`settings_watch_push_lag_seconds\` mean (Redis push → message written).`,
    '',
    '| Round | Writes/s | commit → watcher p50 / p95 / p99 / max | commit → marker p50 / p99 | Server push lag (mean) | Delivered / coalesced / missed | Redis lookups failed / shed |',
    '| --- | --- | --- | --- | --- | --- | --- |',
  );
  for (const r of l.rounds) {
    const c = r.commitToWatcherMs;
    md.push(
      `| ${r.round} | ${n(r.achievedWritesPerSecond)} | ${ms(c.p50)} / ${ms(c.p95)} / ${ms(c.p99)} / ${ms(c.max)} | ${ms(r.commitToMarkerMs.p50)} / ${ms(r.commitToMarkerMs.p99)} | ${ms(r.serverPushLagMeanMs)} | ${n(r.deliveriesReceived)} / ${n(r.coalesced)} / ${n(r.missed)} | ${n(r.redis.fallbackReads)} / ${n(r.redis.loadShed)} |`,
    );
  }
  const m = l.median;
  md.push(
    `| median of rounds (max: highest of rounds) | ${n(m.achievedWritesPerSecond)} | ${ms(m.commitToWatcher.p50)} / ${ms(m.commitToWatcher.p95)} / ${ms(m.commitToWatcher.p99)} / ${ms(m.commitToWatcher.max)} (highest) | ${ms(m.commitToMarker.p50)} / ${ms(m.commitToMarker.p99)} | ${ms(m.serverPushLagMeanMs)} | | ${n(t.fallbackReads)} / ${n(t.loadShed)} (total) |`,
    '',
    'A read the replica sheds while its Redis lookups fail (circuit breaker open) is retried by the watched key\'s topic after 1 s, so a round where the breaker opened shows it in the tail and in coalesced versions.',
    '',
  );
}

function memoryText(memory: readonly WatchMemoryResult[], md: string[]): void {
  md.push(
    '**Idle watchers.** Each variant on a fresh replica: RSS (VmRSS) after it was idle for the settle time, then with the streams open (opened 1,000 at a time; stream i watches account i mod keys), ' +
      'once every stream had its first state and the settle time passed again. Nothing forced (no GC); the V8 heap in use is shown beside RSS. ' +
      'Redis lookups failed / shed reads: the replica read PostgreSQL because its Redis circuit breaker was open, or refused reads beyond that fallback\'s limit (the streams retried).',
    '',
    '| Watchers | Keys | RSS idle → open (max) | Per watcher | Heap used idle → open | Open in | Failed streams | Streams open / after close | Redis lookups failed / shed |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  );
  for (const m of memory)
    md.push(
      `| ${n(m.watchers)} | ${n(m.distinctKeys)} | ${fmt(m.rssBeforeMiB)} → ${fmt(m.rssAfterMiB)} MiB (${fmt(m.rssMaxMiB)}) | ${fmt(m.perWatcherKiB)} KiB | ${fmt(m.heapUsedBeforeMiB)} → ${fmt(m.heapUsedAfterMiB)} MiB | ${fmt(m.openSeconds)} s | ${failures(m.failedStreams)} | ${n(m.streamsOpen)} / ${n(m.streamsAfterClose)} | ${n(m.redis.fallbackReads)} / ${n(m.redis.loadShed)} |`,
    );
  md.push('');
}

function stormText(storms: readonly WatchStormResult[], md: string[]): void {
  md.push(
    "**Reconnect storms.** Cold: a fresh replica (empty near-cache) and new streams opened at once on accounts nobody had read (cold in Redis too). Resume: that replica then stopped (its streams ended UNAVAILABLE) and the same streams reconnected at once to another fresh replica with their resume tokens. PostgreSQL reads = the replica's `settings_db_keys_read_total{kind=\"account_settings.read\"}` delta (keys read; concurrent misses share a query); all kinds = every query it sent. Ready = every stream had its first state or bookmark, timed from opening the first; the harness' one Node process opens and decodes every stream, so the times include its own work.",
    '',
    '| Storm | Streams | Keys | PostgreSQL reads (all queries) | Per key | All ready in | Redis lookups failed / shed | Failed / timed out |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
  );
  for (const s of storms)
    md.push(
      `| ${s.variant} | ${n(s.watchers)} | ${n(s.distinctKeys)} | ${n(s.postgresReads)} (${n(s.allQueries)}) | ${s.readsPerKey.toFixed(3)} | ${fmt(s.secondsToAllReady)} s | ${n(s.redis.fallbackReads)} / ${n(s.redis.loadShed)} | ${failures(s.failedStreams)} / ${n(s.timedOut)} |`,
    );
  md.push('');
}
