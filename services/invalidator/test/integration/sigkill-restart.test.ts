import type { ChildProcess } from 'node:child_process';
import { cacheKeys, changeTopic, localStack, parseCacheValue } from '@settings/shared';
import { withAdmin } from '@settings/local-stack';
import { killIfRunning, startInvalidatorChild } from '../support/invalidator-child';
import { fencedAtLeast, positionGroupAtEnd, sql, testRedis, uniqueId, waitFor } from '../support/test-invalidator';

/**
 * The invalidator is killed with SIGKILL in the middle of applying a large batch (no chance to
 * clean up) and started again: the restarted process resumes from the last committed offset,
 * which was committed only after its evictions, so no invalidation is lost.
 */
jest.setTimeout(180_000);
const N = 2000;
const prefix = uniqueId('kill');
const accounts = Array.from({ length: N }, (_, i) => `${prefix}-${i}`);
const groupId = uniqueId('test-kill-');
const topic = changeTopic(localStack.topicPrefix, 'account_settings');
const startChild = (): ChildProcess => startInvalidatorChild(groupId);

let child: ChildProcess | undefined;
const redis = testRedis();

afterAll(async () => {
  await killIfRunning(child);
  redis.disconnect();
  await sql('DELETE FROM account_settings WHERE account_id LIKE $1', [`${prefix}-%`]);
});

/** The group's committed offsets on the account topic, summed over partitions. */
const committedSum = (): Promise<bigint> =>
  withAdmin('sigkill-test', async (admin) => (await admin.fetchOffsets({ groupId, topics: [topic] }))[0]!.partitions.reduce((sum, p) => sum + BigInt(p.offset), 0n));

it('SIGKILL mid-batch and a restart lose no invalidation', async () => {
  await positionGroupAtEnd(groupId);
  const committedAtStart = await committedSum();
  child = startChild();
  await sql('INSERT INTO account_settings (account_id) SELECT unnest($1::text[])', [accounts]);
  const versions = new Map<string, bigint>((await sql('SELECT account_id, version FROM account_settings WHERE account_id = ANY($1::text[])', [accounts])).map((r) => [r.account_id as string, BigInt(r.version as string)]));
  const fencedCount = async (): Promise<number> => {
    // One GET per key (not a pipeline): on a Redis Cluster a pipeline may not span masters.
    const values = await Promise.all(accounts.map((a) => redis.getBuffer(cacheKeys.accountSettings(a).key)));
    return accounts.filter((a, i) => fencedAtLeast(parseCacheValue(values[i]!), versions.get(a)!)).length;
  };
  await waitFor(async () => (await fencedCount()) >= N * 0.1, 120_000, 'some evictions applied');
  // And some committed: the restart must resume from a committed offset, not replay from the start.
  await waitFor(async () => (await committedSum()) > committedAtStart, 60_000, 'some offsets committed');
  const killed = child;
  killed.kill('SIGKILL');
  await new Promise((r) => killed.once('exit', r));
  const atKill = await fencedCount();
  process.stderr.write(`[measure] killed with ${atKill}/${N} keys evicted\n`);
  expect(atKill).toBeLessThan(N);

  child = startChild();
  try {
    await waitFor(async () => (await fencedCount()) === N, 90_000, 'all keys fenced after restart');
  } finally {
    const restarted = child;
    restarted.kill('SIGTERM');
    await new Promise((r) => restarted.once('exit', r));
  }
});
