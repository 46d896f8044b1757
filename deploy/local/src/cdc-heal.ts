import { checkReplicationSlot, healCdcGaps, localStack, recordCdcGap, type HealResult, type SqlRunner } from '@settings/shared';
import { pgQuery } from './postgres';

/**
 * The CDC gap heal on the local stack (@settings/shared cdc-gap: a recorded gap becomes one
 * Debezium incremental snapshot of the cached tables). The stack records a gap when it resets
 * the connector's offsets because the stored one is gone (a recreated slot), and heals at the end of
 * every `startConnect`, once the connector streams. `npm run cdc:heal` runs the same heal by hand.
 */
const sql: SqlRunner = (text, params) => pgQuery(localStack.database, text, params);

export async function recordLocalCdcGap(reason: string): Promise<void> {
  await recordCdcGap(sql, reason);
}

export interface LocalHealResult extends HealResult {
  /** What the slot check found and recorded (a missing slot, lost WAL): nothing was healed. */
  slotProblem?: string;
}

/**
 * With `slot`, checks it first, as the invalidator's runCdcHeal does: a missing or lost slot is
 * recorded as a gap and nothing is healed, because a signal written while no connector streams
 * from the slot is never read, and the gaps it marks healed would stay unhealed for good. They
 * stay recorded for the next heal (the end of `startConnect`, or this one run again).
 */
export async function healLocalCdcGaps(progress: (msg: string) => void, opts: { slot?: string; force?: string } = {}): Promise<LocalHealResult> {
  const slotProblem = opts.slot ? await checkReplicationSlot(sql, opts.slot) : undefined;
  if (opts.force) await recordCdcGap(sql, opts.force);
  if (slotProblem) {
    progress(`CDC gap: ${slotProblem}: recorded, not healed (run again once the connector streams from the slot, e.g. after \`npm run stack -- up\`)`);
    return { gaps: [], slotProblem };
  }
  const healed = await healCdcGaps(sql);
  if (healed.signalId) progress(`CDC gap (${healed.gaps.join('; ')}): incremental snapshot of the cached tables requested (signal ${healed.signalId})`);
  return healed;
}
