import { randomInt } from 'node:crypto';
import { localStack } from '@settings/shared';
import { ChangeTopicReader } from './change-topic-reader';
import { heartbeatTopic } from './change-topics';
import { pgQuery } from './postgres';

const sql = (text: string, params: unknown[]) => pgQuery(localStack.database, text, params);

/**
 * Waits until Debezium has published everything committed so far, by writing a sentinel
 * heartbeat row and waiting for its change event (Debezium streams the WAL in commit order).
 * Earlier bulk writes and cleanups, of this run or another, can still be in flight; a consumer
 * positioned without this would start in the middle of them. The default timeout allows for
 * a backlog of a full benchmark's 100,000-row update.
 *
 * A new sentinel is written every `resendMs`: the reader's group resolves "latest" on its first
 * fetch, after it joined, so a sentinel published in between is skipped (seen on a freshly
 * started stack, where Debezium is idle and fast: the drain then waited its whole 300 s timeout
 * while heartbeats kept arriving). Any later sentinel proves the same thing, since it was
 * committed after everything this call waits for.
 */
export async function drainDebezium(timeoutMs = 300_000, resendMs = 10_000): Promise<void> {
  const reader = new ChangeTopicReader(heartbeatTopic);
  await reader.start();
  const sentinels = new Set<number>();
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      // Id 1 is Debezium's own heartbeat row; any other id is a sentinel like this one.
      const sentinel = randomInt(2, 2 ** 31 - 1);
      sentinels.add(sentinel);
      await sql('INSERT INTO debezium_heartbeat (id, ts) VALUES ($1, now())', [sentinel]);
      const left = deadline - Date.now();
      try {
        await reader.waitFor((v) => sentinels.has((v as { after?: { id?: number } } | null)?.after?.id ?? 0), Math.max(1, Math.min(left, resendMs)));
        return;
      } catch (err) {
        if (left <= resendMs) throw err;
      }
    }
  } finally {
    await sql('DELETE FROM debezium_heartbeat WHERE id = ANY($1::int[])', [[...sentinels]]).catch(() => undefined);
    await reader.stop();
  }
}
