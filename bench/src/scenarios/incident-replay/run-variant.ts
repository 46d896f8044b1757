import { readFileSync, rmSync } from 'node:fs';
import { sleep, type BenchContext } from '../../context';
import { escapeLike, sql } from '../../db';
import { drainDebezium } from '@settings/local-stack';
import { benchRedis } from '../../redis-util';
import { round as roundTo } from '../../stats';
import { callSummaries } from './latency';
import { INCIDENT_LABELS, type IncidentVariant, type VariantResult } from './result';
import { cpuCores, sampleServerLoad, serverLoad } from './server-load';
import { judgeReads } from './stale-reads';
import { poolWaitsBetween, type Target } from './target';
import { buildTimeline } from './timeline';
import type { ReplayData } from './replay-data';
import { driveTraffic, type BulkRun } from './traffic';
import type { WriteLedger } from './write-ledger';

/** How long a target may take to apply every committed change after the load (this system's invalidator). */
const SETTLE_TIMEOUT_MS = 180_000;
/** Background rates (other users of the shared stack, Debezium heartbeats) are measured this long before the load. */
const BACKGROUND_MS = 3000;

/**
 * One variant on one target: background, the load, quiet until the target has applied every
 * change, then what was stale (reads during the load, entries left after it) and what it cost.
 */
export async function runVariant(ctx: BenchContext, variant: IncidentVariant, round: number, target: Target, data: ReplayData): Promise<VariantResult> {
  const s = ctx.sizes.incident;
  // Same starting line for every variant: the previous variant's bulk update is through Debezium.
  await drainDebezium();
  const redis = benchRedis();
  const sampler = sampleServerLoad(redis, target);
  await sleep(BACKGROUND_MS);
  const backgroundEnd = Date.now();
  const before = await target.appCounters();
  const traffic = await driveTraffic(ctx, variant, round, target, data);
  const after = await target.appCounters();

  // Quiescence: no traffic for at least quiesceSeconds, and (this system) until the invalidator
  // has applied every change committed so far.
  const quietStart = Date.now();
  await Promise.all([sleep(s.quiesceSeconds * 1000), target.settle(SETTLE_TIMEOUT_MS)]);
  const quiesceEnd = Date.now();
  const series = await sampler.stop();
  const staleKeys = await countStaleEntries(target, data.prefix);
  redis.disconnect();

  recordBulkVersions(traffic.bulk, data);
  const { staleByRead, stale } = judgeReads(traffic.reads, data.ledger);
  return {
    variant,
    label: INCIDENT_LABELS[variant],
    round,
    ...callSummaries(traffic),
    bulk: { rows: traffic.bulk.rows, statementMs: traffic.bulk.statementMs, startedAtS: traffic.bulk.startedAtS },
    stale,
    ...(before.writePoolWaits && after.writePoolWaits ? { writePoolWait: poolWaitsBetween(before.writePoolWaits, after.writePoolWaits) } : {}),
    ...serverLoad(series, { backgroundEnd, from: traffic.t0, to: quiesceEnd, before, after }),
    // Same windows as the bulkheads' latencies (latency.ts).
    cpuCores: cpuCores(series, { preBurst: [traffic.burstStart - (traffic.burstStart - traffic.t0) / 2, traffic.burstStart], burst: [traffic.burstStart, traffic.burstEnd] }),
    staleKeysAfterQuiescence: {
      ...staleKeys,
      quiesceSeconds: roundTo((quiesceEnd - quietStart) / 1000, 1),
      checkedAfterBulkCommitMs: traffic.bulk.committedAt > 0 ? quiesceEnd - traffic.bulk.committedAt : Number.NaN,
    },
    timeline: buildTimeline(traffic, traffic.totalMs + s.quiesceSeconds * 1000, staleByRead, series),
  };
}

/** Cached entries older than their row, over every row of the replay. */
async function countStaleEntries(target: Target, prefix: string): Promise<{ cachedKeys: number; staleKeys: number }> {
  const rows = await sql<{ account_id: string; version: string }>('SELECT account_id, version::text AS version FROM account_settings WHERE account_id LIKE $1', [`${escapeLike(prefix)}-%`]);
  const cached = await target.cachedVersions(rows.map((r) => r.account_id));
  let staleKeys = 0;
  for (const r of rows) {
    const v = cached.get(r.account_id);
    if (v !== undefined && v < Number(r.version)) staleKeys++;
  }
  return { cachedKeys: cached.size, staleKeys };
}

/**
 * The bulk's versions go into the ledger only after the load, so that parsing 100,000 rows
 * cannot disturb the clock; they count from when the executor saw the UPDATE return.
 */
function recordBulkVersions(bulk: BulkRun, data: { indexOf: Map<string, number>; ledger: WriteLedger }): void {
  if (!bulk.file) return;
  for (const line of readFileSync(bulk.file, 'utf8').split('\n')) {
    const tab = line.indexOf('\t');
    const idx = tab > 0 ? data.indexOf.get(line.slice(0, tab)) : undefined;
    if (idx !== undefined) data.ledger.record(idx, Number(line.slice(tab + 1)), bulk.committedAt, 'b');
  }
  rmSync(bulk.file, { force: true });
}
