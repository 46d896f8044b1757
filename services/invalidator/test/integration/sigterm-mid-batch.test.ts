import type { ChildProcess } from 'node:child_process';
import { cacheKeys, changeTopic, localStack, parseCacheValue } from '@settings/shared';
import { ChangeTopicReader, withAdmin } from '@settings/local-stack';
import { exited, killIfRunning, startInvalidatorChild } from '../support/invalidator-child';
import { fencedAtLeast, positionGroupAtEnd, sql, testRedis, uniqueId, waitFor } from '../support/test-invalidator';

/**
 * README, failure modes, SIGTERM: the invalidator stops in the middle of a large batch, exits 0
 * within 25 s, and commits no offset past what it evicted; the next owner evicts the rest.
 * The invalidator runs as its own process (the signal reaches it as in a pod).
 */
jest.setTimeout(180_000);
const N = 2000;
const prefix = uniqueId('term');
const accounts = Array.from({ length: N }, (_, i) => `${prefix}-${i}`);
const groupId = uniqueId('test-term-');
const topic = changeTopic(localStack.topicPrefix, 'account_settings');

let child: ChildProcess | undefined;
const redis = testRedis();
const reader = new ChangeTopicReader(topic);

afterAll(async () => {
  await killIfRunning(child);
  await reader.stop();
  redis.disconnect();
  await sql('DELETE FROM account_settings WHERE account_id LIKE $1', [`${prefix}-%`]);
});

it('SIGTERM mid-batch: exits 0 within 25 s, commits no offset past its evictions, and the next owner evicts the rest', async () => {
  await positionGroupAtEnd(groupId);
  await reader.start();
  await sql('INSERT INTO account_settings (account_id) SELECT unnest($1::text[])', [accounts]);
  const versions = new Map<string, bigint>((await sql('SELECT account_id, version FROM account_settings WHERE account_id = ANY($1::text[])', [accounts])).map((r) => [r.account_id as string, BigInt(r.version as string)]));
  // Where each account's event is: partition and offset.
  const events = new Map<string, { partition: number; offset: bigint; account: string }>();
  await reader.waitFor((value, message, partition) => {
    const account = (value?.after as { account_id?: string } | undefined)?.account_id;
    if (account !== undefined && versions.has(account)) events.set(`${partition}:${message.offset}`, { partition, offset: BigInt(message.offset), account });
    return events.size === N;
  }, 60_000);
  // Started once the whole backlog is in Kafka (its group waits before it): SIGTERM below lands
  // ~1 s into ~10 s of evictions.
  child = startInvalidatorChild(groupId);
  const fenced = async (): Promise<Set<string>> => {
    // One GET per key (not a pipeline): on a Redis Cluster a pipeline may not span masters.
    const values = await Promise.all(accounts.map((a) => redis.getBuffer(cacheKeys.accountSettings(a).key)));
    return new Set(accounts.filter((a, i) => fencedAtLeast(parseCacheValue(values[i]!), versions.get(a)!)));
  };
  await waitFor(async () => (await fenced()).size >= N * 0.1, 120_000, 'some evictions applied');

  const signalled = Date.now();
  child.kill('SIGTERM');
  const code = await exited(child);
  const exitMs = Date.now() - signalled;
  const atExit = await fenced();
  const committed = await withAdmin('sigterm-test', async (admin) => (await admin.fetchOffsets({ groupId, topics: [topic] }))[0]!.partitions);
  const committedBelow = (partition: number): bigint => BigInt(committed.find((c) => c.partition === partition)?.offset ?? '-1');
  const committedEvents = [...events.values()].filter((e) => e.offset < committedBelow(e.partition));
  process.stderr.write(`[measure] SIGTERM: exit ${code} after ${exitMs} ms, ${atExit.size}/${N} keys evicted, ${committedEvents.length} events committed\n`);
  expect(code).toBe(0);
  expect(exitMs).toBeLessThan(25_000);
  expect(atExit.size).toBeLessThan(N); // it did stop mid-batch
  expect(committedEvents.length).toBeGreaterThan(0); // the check below is not empty
  expect(committedEvents.filter((e) => !atExit.has(e.account)).map((e) => `${e.partition}:${e.offset}`)).toEqual([]);

  child = startInvalidatorChild(groupId);
  await waitFor(async () => (await fenced()).size === N, 90_000, 'all keys fenced by the next owner');
  child.kill('SIGTERM');
  expect(await exited(child)).toBe(0);
});
