import type { BenchContext } from '../../context';
import { accountId, createAccounts, deleteAccounts, escapeLike, sql } from '../../db';
import { Zipf } from '../../load';
import { benchRedis, deleteByPattern, deleteAccountKeys } from '../../redis-util';
import { round as roundTo } from '../../stats';
import { aggregateByVariant } from './aggregate';
import { startLegacy } from './legacy-target';
import { AutogroupWeights, CDC_YIELD_NICE } from '../../autogroup-weights';
import type { CpuRole } from '../../process-cpu';
import { INCIDENT_LABELS, INCIDENT_VARIANTS, isThisSystem, type IncidentResult, type IncidentVariant, type VariantResult } from './result';
import { runVariant } from './run-variant';
import { startThisSystem } from './this-system-target';
import type { ReplayData } from './replay-data';
import { WriteLedger } from './write-ledger';

/** Rows outside the bulk UPDATE that the free saves spread over (few enough to stay cached). */
const FREE_ACCOUNTS = 200;

/**
 * (c′): the processes that only carry changes to the invalidator — Kafka, Kafka Connect and
 * the invalidator — yield the cores to the serving path (autogroup nice 10, a weight of 110
 * against 1,024), as separate nodes or CPU requests would give the settings pods in
 * Kubernetes. PostgreSQL keeps its weight: here it also serves the reads that miss and the
 * saves, and runs the bulk UPDATE itself.
 */
const YIELDING_ROLES: readonly CpuRole[] = ['Kafka broker', 'Kafka Connect', 'invalidator'];

/**
 * Scenario 3: the 2021-09-23 incident replayed on the same data and load three ways (plus the
 * hotfix's clear-everything form). Read-heavy Zipf traffic, then a burst of saves with one bulk
 * UPDATE over every account, then quiet. Reads are stale when they return a version older than
 * a write whose commit the harness had already seen acknowledged when the read started.
 *
 * Files: the result shape (result.ts), the targets (legacy-target.ts, this-system-target.ts),
 * one variant's run (run-variant.ts: traffic.ts drives the load; stale-reads.ts, latency.ts,
 * server-load.ts and timeline.ts measure it).
 */
export async function runIncidentReplay(ctx: BenchContext): Promise<IncidentResult> {
  const s = ctx.sizes.incident;
  const prefix = `${ctx.prefix}-inc`;
  const ids = Array.from({ length: s.accounts }, (_, i) => accountId(prefix, i));
  // Outside `${prefix}-%`, so the bulk UPDATE never locks them.
  const freePrefix = `${ctx.prefix}-incfree`;
  const freeIds = Array.from({ length: FREE_ACCOUNTS }, (_, i) => accountId(freePrefix, i));
  const data: ReplayData = {
    ids,
    freeIds,
    indexOf: new Map(ids.map((id, i) => [id, i])),
    zipf: new Zipf(s.accounts, s.zipfS, 42),
    prefix,
    ledger: new WriteLedger(),
    payloadBytes: { legacy: 0, service: 0 },
  };
  const redis = benchRedis();
  const variants: VariantResult[] = [];
  try {
    ctx.log(`incident: creating ${s.accounts} accounts`);
    await createAccounts(prefix, s.accounts);
    await createAccounts(freePrefix, FREE_ACCOUNTS);
    const initial = await sql<{ account_id: string; version: string }>('SELECT account_id, version::text AS version FROM account_settings WHERE account_id LIKE $1', [`${escapeLike(prefix)}-%`]);
    const t0 = Date.now();
    for (const r of initial) data.ledger.record(data.indexOf.get(r.account_id)!, Number(r.version), t0, 'i');

    // BENCH_INCIDENT_VARIANTS=this-system,ttl-only runs a subset (for investigating one design).
    const only = (process.env.BENCH_INCIDENT_VARIANTS ?? '').split(',').filter(Boolean);
    const canReweigh = AutogroupWeights.canSetForRoles(YIELDING_ROLES, CDC_YIELD_NICE);
    if (!canReweigh) ctx.log('incident: cannot change the autogroup nice of the CDC pipeline (not root?): (c′) is left out');
    const chosen = INCIDENT_VARIANTS.filter((v) => (only.length === 0 || only.includes(v)) && (canReweigh || v !== 'this-system-cdc-yields'));
    for (let round = 1; round <= s.rounds; round++) {
      const order = chosen.map((_, i) => chosen[(i + round - 1) % chosen.length]!);
      for (const variant of order) {
        ctx.log(`incident: round ${round}, ${INCIDENT_LABELS[variant]}`);
        const target = isThisSystem(variant) ? await startThisSystem(ctx, prefix, round) : await startLegacy(ctx, variant, `bench:${ctx.runId}:${variant}:r${round}:`, s.ttlSeconds);
        const weights = yieldingWeights(variant);
        try {
          const r = await runVariant(ctx, variant, round, target, data);
          variants.push(r);
          ctx.log(
            `incident: ${variant}: stale reads ${r.stale.reads} (max age ${r.stale.maxAgeMs} ms), stale keys ${r.staleKeysAfterQuiescence.staleKeys}, ` +
              `read p99 burst ${r.reads.burstLatencyMs.p99} ms (failed reads: ${r.reads.failures ?? '?'}), save p99 burst ${r.saves.burstLatencyMs.p99} ms, PG peak ${r.postgres.peakXactsPerSecond}/s, Redis peak ${r.redis.peakOpsPerSecond}/s`,
          );
        } finally {
          weights?.restore();
          await target.stop();
        }
      }
    }
  } finally {
    await deleteAccounts(prefix).catch(() => undefined);
    await deleteAccounts(freePrefix).catch(() => undefined);
    await deleteByPattern(redis, `bench:${ctx.runId}:*`);
    await deleteAccountKeys(redis, prefix);
    await deleteAccountKeys(redis, freePrefix);
    redis.disconnect();
  }
  return {
    cdcYield: { nice: CDC_YIELD_NICE, roles: [...YIELDING_ROLES] },
    accounts: s.accounts,
    zipfS: s.zipfS,
    hottest1000Share: roundTo(data.zipf.topShare(1000), 4),
    load: {
      readsPerSecond: s.readsPerSecond,
      normalSavesPerSecond: s.normalSavesPerSecond,
      burstSavesPerSecond: s.burstSavesPerSecond,
      warmSeconds: s.warmSeconds,
      burstSeconds: s.burstSeconds,
      tailSeconds: s.tailSeconds,
      quiesceSeconds: s.quiesceSeconds,
    },
    payloadBytes: data.payloadBytes,
    rounds: s.rounds,
    variants,
    byVariant: aggregateByVariant(variants),
  };
}

/** (c′): the CDC pipeline's processes (the variant's own invalidator included) at CDC_YIELD_NICE, until restored. */
function yieldingWeights(variant: IncidentVariant): AutogroupWeights | undefined {
  if (variant !== 'this-system-cdc-yields') return undefined;
  const weights = AutogroupWeights.setForRoles(YIELDING_ROLES, CDC_YIELD_NICE);
  if (!weights) throw new Error("incident: the CDC pipeline's autogroup nice could not be changed any more");
  return weights;
}
