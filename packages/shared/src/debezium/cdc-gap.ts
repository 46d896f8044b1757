import { randomUUID } from 'node:crypto';

/**
 * Self-healing after a gap in the change stream (a replication slot recreated or lost,
 * connector offsets reset: Debezium then streams from "now" with snapshot.mode=no_data and
 * never sees the changes made in between).
 *
 * Detect: whatever causes or sees a gap records it (`recordCdcGap`): the local stack when it
 * resets the connector's offsets, the operator command, `healCdcGaps` itself when the slot is
 * missing or its WAL is lost. Heal: `healCdcGaps`, run once the connector streams again, turns
 * every unhealed gap into ONE Debezium incremental snapshot of the cached tables (an
 * `execute-snapshot` row in the signal table, read by the connector through the slot): every
 * row is re-emitted with its current version and the invalidator evicts exactly the entries
 * older than their row. The cache is not emptied.
 */

/** Runs one SQL statement; node-postgres' `query` or the local stack's `pgQuery` fit. */
export type SqlRunner = (sql: string, params?: unknown[]) => Promise<Array<Record<string, unknown>>>;

/** The tables the cache is filled from (the key map's tables), as Debezium data collections. */
export const CDC_SNAPSHOT_COLLECTIONS: readonly string[] = [
  'public.account_settings',
  'public.doctor_settings',
  'public.staff_permissions',
  'public.staff_permission_lists',
  'public.onpatient_settings',
];

export function snapshotSignalData(collections: readonly string[] = CDC_SNAPSHOT_COLLECTIONS): string {
  return JSON.stringify({ 'data-collections': collections, type: 'incremental' });
}

export async function recordCdcGap(sql: SqlRunner, reason: string): Promise<void> {
  await sql('INSERT INTO cdc_gap (reason) VALUES ($1)', [reason]);
}

/** Records a gap when the slot is missing or PostgreSQL invalidated it (its WAL is gone). */
export async function checkReplicationSlot(sql: SqlRunner, slot: string): Promise<string | undefined> {
  const rows = await sql('SELECT wal_status FROM pg_replication_slots WHERE slot_name = $1', [slot]);
  const problem = rows.length === 0 ? `replication slot ${slot} missing` : rows[0]!.wal_status === 'lost' ? `replication slot ${slot} lost its WAL (max_slot_wal_keep_size)` : undefined;
  if (problem) await recordCdcGap(sql, problem);
  return problem;
}

export interface HealResult {
  /** Gaps this call healed (0: nothing to do). */
  gaps: string[];
  /** Id of the execute-snapshot signal inserted, when there was a gap. */
  signalId?: string;
}

/**
 * One statement: marks every unhealed gap healed and, if there was one, inserts the
 * incremental-snapshot signal, so two concurrent heals never both signal and a failed insert
 * leaves the gaps unhealed. Run it only while the connector streams: a signal row written
 * before the stream's new start position is never read.
 */
export async function healCdcGaps(sql: SqlRunner, collections: readonly string[] = CDC_SNAPSHOT_COLLECTIONS): Promise<HealResult> {
  const signalId = randomUUID();
  const rows = await sql(
    `WITH pending AS (
       UPDATE cdc_gap SET healed_at = now(), signal_id = $1 WHERE healed_at IS NULL RETURNING reason
     ), signal AS (
       INSERT INTO debezium_signal (id, type, data) SELECT $1, 'execute-snapshot', $2 WHERE EXISTS (SELECT FROM pending) RETURNING id
     )
     SELECT reason, (SELECT count(*) FROM signal)::int AS signalled FROM pending`,
    [signalId, snapshotSignalData(collections)],
  );
  return rows.length === 0 ? { gaps: [] } : { gaps: rows.map((r) => String(r.reason)), signalId };
}
