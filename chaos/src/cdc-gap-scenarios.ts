import { connectorFile, dropReplicationSlot, pgQuery, resetConnectorOffsets, stopConnector } from '@settings/local-stack';
import { localStack } from '@settings/shared';
import { startConnectAgain, type Log } from './faults';
import type { Fleet } from './fleet';
import type { ChaosSizes, ScenarioName } from './config';

/**
 * CDC gaps: the change stream misses what was written while it was broken, and only the heal
 * (a recorded gap → a Debezium incremental snapshot of the cached tables, requested by the
 * stack's `startConnect` once the connector streams again) can evict those entries. The workload
 * keeps writing (gRPC and psql UPDATEs of cached keys) during the gap. No generation is renewed:
 * the cache is never emptied, so convergence proves the snapshot's read events did the eviction.
 */
/** What these scenarios use of scenarios.ts' ScenarioContext (not imported: scenarios.ts imports this file). */
interface GapContext {
  fleet: Fleet;
  sizes: ChaosSizes;
  log: Log;
  note(msg: string): void;
}
interface GapScenario {
  name: ScenarioName;
  behaviour: string;
  fault: string;
  inject(ctx: GapContext): Promise<void>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function waitSlotInactive(slot: string, timeoutMs = 30_000): Promise<void> {
  const t0 = Date.now();
  while (Date.now() - t0 < timeoutMs) {
    const rows = await pgQuery(localStack.database, 'SELECT active FROM pg_replication_slots WHERE slot_name = $1', [slot]);
    if (rows[0]?.active !== true) return;
    await sleep(250);
  }
  throw new Error(`replication slot ${slot} still active ${timeoutMs / 1000} s after the connector stopped`);
}

interface HealCounters {
  reads: number;
  evicted: number;
}

async function healCounters(fleet: Fleet): Promise<HealCounters> {
  return {
    reads: await fleet.invalidatorMetricSum('invalidator_events_consumed_total', { op: 'r' }),
    evicted: await fleet.invalidatorMetricSum('invalidator_keys_evicted_total'),
  };
}

/** Starts the connector again (the stack heals recorded gaps), then reports what the snapshot did. */
async function restartAndMeasureHeal({ fleet, note }: GapContext, log: Log): Promise<void> {
  const t0 = Date.now();
  const before = await healCounters(fleet);
  log('starting the connector again');
  await startConnectAgain(log);
  const gaps = await pgQuery(localStack.database, 'SELECT reason FROM cdc_gap WHERE healed_at >= to_timestamp($1::double precision / 1000)', [t0 - 1_000]);
  const rows = await pgQuery(
    localStack.database,
    `SELECT (SELECT count(*) FROM account_settings) + (SELECT count(*) FROM doctor_settings) + (SELECT count(*) FROM staff_permissions)
       + (SELECT count(*) FROM staff_permission_lists) + (SELECT count(*) FROM onpatient_settings) AS n`,
  );
  // The snapshot's read events reach the invalidators within seconds; wait until they stop coming.
  let last = before;
  let stableSince = Date.now();
  while (Date.now() - t0 < 30_000) {
    await sleep(500);
    const now = await healCounters(fleet);
    if (now.reads !== last.reads) stableSince = Date.now();
    last = now;
    if (now.reads > before.reads && Date.now() - stableSince > 2_000) break;
  }
  note(
    `gap recorded: ${gaps.map((g) => String(g.reason)).join('; ') || 'NONE'}; heal re-read ${last.reads - before.reads} rows (${String(rows[0]?.n)} in the cached tables) ` +
      `in ${((Date.now() - t0) / 1000).toFixed(1)} s; keys evicted meanwhile ${last.evicted - before.evicted} (workload evictions included); no generation renewed`,
  );
}

export const slotRecreated: GapScenario = {
  name: 'slot-recreated',
  behaviour: 'after the replication slot is dropped and recreated with writes in the gap every key converges to its row, without emptying the cache',
  fault: 'stop the connector, drop its replication slot, keep writing for the hold time, start the connector (it recreates the slot; the stored offset is gone, so the stack resets it, records the gap and heals it by an incremental snapshot)',
  async inject(ctx) {
    const { sizes, log, note } = ctx;
    const slot = connectorFile().config['slot.name']!;
    log('stopping the connector');
    await stopConnector();
    await waitSlotInactive(slot);
    note(`replication slot ${slot} dropped: ${await dropReplicationSlot()}`);
    await sleep(sizes.faultHoldMs);
    await restartAndMeasureHeal(ctx, log);
  },
};

export const offsetsReset: GapScenario = {
  name: 'offsets-reset',
  behaviour: 'after the connector offsets are reset with writes in the gap every key converges to its row, without emptying the cache',
  fault: 'stop the connector, keep writing for the hold time, reset its offsets over the Connect REST API (the stack helper records the gap), start it; the heal is an incremental snapshot',
  async inject(ctx) {
    const { sizes, log } = ctx;
    const { name } = connectorFile();
    log('stopping the connector');
    await stopConnector(name);
    await sleep(sizes.faultHoldMs);
    log('resetting its offsets');
    await resetConnectorOffsets(name, 'chaos offsets-reset: connector offsets reset over the Connect REST API');
    await restartAndMeasureHeal(ctx, log);
  },
};
