import { checkReplicationSlot, healCdcGaps, recordCdcGap, type HealResult, type SqlRunner } from '@settings/shared';
import { commonEnv, ConfigError, databaseEnv, env, loadEnv } from '@settings/shared';

/**
 * The configuration and steps of the heal-cdc-gap command (heal-cdc-gap.ts), apart from its
 * process and connection so that they can be tested with a fake SqlRunner.
 */
const POSTGRES_URL = ['postgres:', 'postgresql:'];

export const healCdcGapEnvSchema = {
  // In an invalidator pod DATABASE_URL is the read-only auditor role: the heal needs a role
  // allowed to insert the signal (debezium_settings), hence a variable of its own that wins.
  HEAL_DATABASE_URL: env.url('PostgreSQL as a role allowed to record gaps and insert the snapshot signal (debezium_settings); a password missing from the URL is taken from PGPASSWORD', POSTGRES_URL, ''),
  DATABASE_URL: { ...env.url('used when HEAL_DATABASE_URL is unset', POSTGRES_URL, ''), localStackDefault: databaseEnv.DATABASE_URL.localStackDefault },
  REPLICATION_SLOT: env.string('the connector\'s replication slot, checked for loss before the heal', 'settings_cache_slot'),
  LOG_LEVEL: commonEnv.LOG_LEVEL,
};

export interface HealCdcGapConfig {
  databaseUrl: string;
  slot: string;
  /** Recorded as a gap before the heal (an operator who knows of one); none: only gaps already recorded or found. */
  reason?: string;
  /**
   * `--drop-lost-slot [reason]`: the connector is stopped and its offsets are about to be reset:
   * record the reason (the gap that reset makes), drop the slot if PostgreSQL invalidated it
   * (dropLostSlot), heal nothing.
   */
  dropLostSlot?: boolean;
  LOG_LEVEL: string;
}

export function loadHealCdcGapConfig(environment: NodeJS.ProcessEnv = process.env, args: readonly string[] = process.argv.slice(2)): HealCdcGapConfig {
  const values = loadEnv(healCdcGapEnvSchema, environment);
  const databaseUrl = values.HEAL_DATABASE_URL || values.DATABASE_URL;
  if (!databaseUrl) throw new ConfigError(['HEAL_DATABASE_URL (or DATABASE_URL) is required (PostgreSQL as a role allowed to insert the snapshot signal, e.g. debezium_settings)']);
  if (!values.REPLICATION_SLOT.trim()) throw new ConfigError(['REPLICATION_SLOT is empty']);
  const dropLostSlot = args[0] === DROP_LOST_SLOT;
  const reason = (dropLostSlot ? args.slice(1) : args).join(' ').trim();
  return { databaseUrl, slot: values.REPLICATION_SLOT.trim(), ...(reason ? { reason } : {}), ...(dropLostSlot ? { dropLostSlot } : {}), LOG_LEVEL: values.LOG_LEVEL };
}

const DROP_LOST_SLOT = '--drop-lost-slot';

/**
 * Drops the slot when PostgreSQL invalidated it (`wal_status` lost, past max_slot_wal_keep_size),
 * recording the gap first. Such a slot can never stream again (START_REPLICATION refuses it),
 * and Debezium creates a slot only when it is missing: without this the connector fails on
 * every start and no heal can run. Run it with the connector stopped (PostgreSQL refuses to drop
 * an active slot), then reset the connector's offsets and start it: it creates a new slot.
 *
 * `resetReason`, the gap the coming offsets reset makes, is recorded before anything else,
 * whatever the slot: recorded only after the reset, a run that fails between the two (the
 * connector never RUNNING again, a failed heal pod) would leave no gap, and a later heal without
 * a reason would find nothing to do. Recorded early, the worst case is one needless snapshot.
 * Returns what it did.
 */
export async function dropLostSlot(sql: SqlRunner, slot: string, resetReason?: string): Promise<string> {
  if (resetReason) await recordCdcGap(sql, resetReason);
  const recorded = resetReason ? `; gap recorded: ${resetReason}` : '';
  const rows = await sql('SELECT wal_status FROM pg_replication_slots WHERE slot_name = $1', [slot]);
  if (rows[0]?.wal_status !== 'lost') return `replication slot ${slot} ${rows.length === 0 ? 'missing (the connector creates it)' : `not invalidated (wal_status ${String(rows[0]!.wal_status)})`}: kept${recorded}`;
  await recordCdcGap(sql, `replication slot ${slot} lost its WAL (max_slot_wal_keep_size): dropped for the connector to create a new one`);
  await sql('SELECT pg_drop_replication_slot($1)', [slot]);
  return `replication slot ${slot} had lost its WAL: dropped (gap recorded; heal once the connector streams from its new slot)${recorded}`;
}

export interface CdcHealReport extends HealResult {
  /** What checkReplicationSlot found and recorded (a missing slot, lost WAL), if anything. */
  slotProblem?: string;
}

/**
 * Check the slot (a missing or lost one is recorded as a gap), record the operator's reason, then
 * heal. With a slot problem nothing is healed: a signal written while no connector streams from
 * the slot is never read, so the gaps stay recorded for the next run, once the connector
 * streams from a new slot.
 */
export async function runCdcHeal(sql: SqlRunner, config: Pick<HealCdcGapConfig, 'slot' | 'reason'>): Promise<CdcHealReport> {
  const slotProblem = await checkReplicationSlot(sql, config.slot);
  if (config.reason) await recordCdcGap(sql, config.reason);
  if (slotProblem) return { gaps: [], slotProblem };
  return healCdcGaps(sql);
}

export function describeCdcHeal(report: CdcHealReport): string {
  if (report.slotProblem) return `${report.slotProblem}: recorded as a gap, not healed (run again once the connector streams from the slot)`;
  return report.signalId
    ? `healed ${report.gaps.length} gap(s) (${report.gaps.join('; ')}): incremental snapshot of the cached tables requested (signal ${report.signalId}); the invalidator evicts only the entries older than their row`
    : 'no unhealed CDC gap: nothing to do (pass a reason to record one and heal it)';
}
