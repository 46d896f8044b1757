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
 */
export async function drainDebezium(timeoutMs = 300_000): Promise<void> {
  const reader = new ChangeTopicReader(heartbeatTopic);
  await reader.start();
  try {
    // Id 1 is Debezium's own heartbeat row; any other id is a sentinel like this one.
    const sentinel = randomInt(2, 2 ** 31 - 1);
    await sql('INSERT INTO debezium_heartbeat (id, ts) VALUES ($1, now())', [sentinel]);
    await reader.waitFor((v) => (v as { after?: { id?: number } } | null)?.after?.id === sentinel, timeoutMs);
    await sql('DELETE FROM debezium_heartbeat WHERE id = $1', [sentinel]);
  } finally {
    await reader.stop();
  }
}
