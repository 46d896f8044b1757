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

export async function healLocalCdcGaps(progress: (msg: string) => void, opts: { slot?: string; force?: string } = {}): Promise<HealResult> {
  if (opts.slot) {
    const problem = await checkReplicationSlot(sql, opts.slot);
    if (problem) progress(`CDC gap: ${problem}`);
  }
  if (opts.force) await recordCdcGap(sql, opts.force);
  const healed = await healCdcGaps(sql);
  if (healed.signalId) progress(`CDC gap (${healed.gaps.join('; ')}): incremental snapshot of the cached tables requested (signal ${healed.signalId})`);
  return healed;
}
