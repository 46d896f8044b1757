import { Partitioners, type Admin, type Producer } from 'kafkajs';
import { CACHED_TABLES, cacheKeys, changeTopic, createLogger, localStack } from '@settings/shared';
import { deleteGroups, ensureChangeTopics, LOCAL_TOPIC_PARTITIONS, localKafka } from '@settings/local-stack';
import { readDeadLetters, type DeadLetterRecord } from '../../src/admin/dead-letters';
import type { InvalidatorConfig } from '../../src/config';
import { startInvalidator, type RunningInvalidator } from '../../src/invalidator';
import { deleteKeys, fencedAtLeast, readCache, testConfig, testRedis, uniqueId, waitFor } from '../support/test-invalidator';

/**
 * README, guarantees, "a dead-letter topic that refuses writes is loud" and "a wedged consumer
 * is restarted": a replica is not ready for exactly as long as a partition *of its own* is held
 * back by dead letters its DLQ refuses. Against the real broker and kafkajs (the unit tests use
 * a stand-in consumer):
 *  1. replica A, whose DLQ topic does not exist, is not ready once a poison event on one of its
 *     partitions cannot be dead-lettered;
 *  2. a rebalance moves that partition to replica B (same group, writable DLQ): A is ready again
 *     (GROUP_JOIN drops the partition from what holds A back), and B dead-letters the poison
 *     event and commits past it;
 *  3. B stops and the partition comes back to A, which fetches it again: a change event produced
 *     to it afterwards is applied. kafkajs keeps a partition's pause across assignments; without
 *     the resume in the GROUP_JOIN handler A never fetched it again, while ready.
 *
 * Where a partition goes is kafkajs' round-robin assigner's choice: members sorted by member id,
 * which the broker makes `<client id>-<uuid>`. So A and B get client ids that sort A first, a
 * throw-away B shows which partitions the second member gets, and the poison goes to one of
 * those. (Should the broker's member ids not follow that, B is started again, bounded.)
 *
 * Change topics of the test's own (KAFKA_TOPIC_PREFIX): the poison event reaches no other
 * test's invalidator, and other tests' changes are not this one's backlog. The change event of
 * step 3 is written by the test, shaped as Debezium writes it, to the exact partition.
 */
jest.setTimeout(120_000);

const run = uniqueId('dlq-rebalance-');
const groupId = `test-${run}`;
const topicPrefix = `test-${run}`;
const topics = CACHED_TABLES.map((t) => changeTopic(topicPrefix, t));
const accountTopic = changeTopic(topicPrefix, 'account_settings');
/** A's dead-letter topic: never created (KAFKA_CREATE_TOPICS=false), so every publish is refused. */
const missingDlq = `${run}-missing-dlq`;
/** B's dead-letter topic: created by the test, one partition as in Kubernetes. */
const writableDlq = `${run}-dlq`;
const dlqReadGroup = `${run}-dlq-read`;
const account = uniqueId('dlq-rebalance-');
const accountKey = cacheKeys.accountSettings(account).key;

const MOVED_AWAY = 'partition held back by dead letters moved to another member (its batch is redelivered there)';
const BACKING_OFF = 'dead-letter topic still refuses writes; backing off again';
const REFUSES = /dead-letter topic refuses writes/;

interface LogLine {
  level?: string;
  msg?: string;
  logger?: string;
  [field: string]: unknown;
}
type Replica = RunningInvalidator & { name: string; config: InvalidatorConfig; lines: LogLine[] };

const kafka = localKafka('dlq-rebalance-test');
const redis = testRedis();
const replicas: Replica[] = [];
let producer: Producer | undefined;
let admin: Admin | undefined;

afterAll(async () => {
  await Promise.all(replicas.map((r) => r.stop().catch(() => undefined)));
  await producer?.disconnect().catch(() => undefined);
  await admin?.deleteTopics({ topics: [...topics, missingDlq, writableDlq] }).catch(() => undefined);
  await admin?.disconnect().catch(() => undefined);
  await deleteGroups([groupId, dlqReadGroup]);
  await deleteKeys(redis, [accountKey]);
  redis.disconnect();
});

/**
 * An invalidator in this process, in the test's group, reading the test's topics. `clientId`
 * orders the members (the broker's member id starts with it). Session timeout 10 s: a heartbeat
 * every second, so a member hears of a rebalance within about a second.
 */
async function startReplica(name: string, clientId: string, dlqTopic: string, logLevel: string): Promise<Replica> {
  const config = testConfig({
    KAFKA_GROUP_ID: groupId,
    KAFKA_TOPIC_PREFIX: topicPrefix,
    KAFKA_CLIENT_ID: clientId,
    KAFKA_CREATE_TOPICS: 'false',
    DLQ_TOPIC: dlqTopic,
    DLQ_MAX_ATTEMPTS: '1',
    KAFKA_SESSION_TIMEOUT_MS: '10000',
    LOG_LEVEL: logLevel,
  });
  const lines: LogLine[] = [];
  const running = await startInvalidator(config, createLogger(`invalidator-${name}`, config.LOG_LEVEL, { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) }));
  const replica: Replica = { ...running, name, config, lines };
  replicas.push(replica);
  await waitFor(() => running.consumer.joined, 45_000, `${name} joined the group`);
  return replica;
}

async function stopReplica(r: Replica): Promise<void> {
  await r.stop();
  replicas.splice(replicas.indexOf(r), 1);
}

async function readyz(r: Replica): Promise<{ status: number; deadLetterFailing: boolean | undefined }> {
  const res = await fetch(`http://127.0.0.1:${r.httpPort}/readyz`);
  const body = (await res.json()) as { detail?: { deadLetterFailing?: boolean } };
  return { status: res.status, deadLetterFailing: body.detail?.deadLetterFailing };
}

const owns = (r: Replica, topic: string, partition: number): boolean => (r.consumer.assignment[topic] ?? []).includes(partition);

/**
 * The group's last rebalance is over for `members`: each joined, and their assignments split
 * every partition of the test's topics between them (each exactly once). A member that has not
 * rejoined yet still holds its previous assignment, which overlaps or leaves a gap.
 */
function settled(members: Replica[]): boolean {
  if (!members.every((m) => m.consumer.joined)) return false;
  for (const topic of topics) {
    const held = members.flatMap((m) => m.consumer.assignment[topic] ?? []).sort((x, y) => x - y);
    if (held.join() !== Array.from({ length: LOCAL_TOPIC_PARTITIONS }, (_, i) => i).join()) return false;
  }
  return true;
}

async function committedOffset(partition: number): Promise<bigint> {
  const [offsets] = await admin!.fetchOffsets({ groupId, topics: [accountTopic] });
  return BigInt(offsets!.partitions.find((p) => p.partition === partition)!.offset);
}

/** A Debezium UPDATE of the account's row (nested envelope, JSON converter without schemas), as the connector writes it. */
function accountUpdate(version: number): Buffer {
  const now = Date.now();
  const row = (v: number): Record<string, unknown> => ({ account_id: account, display_name: 'Rebalance clinic', time_zone: 'UTC', locale: 'en-US', version: v });
  return Buffer.from(
    JSON.stringify({
      before: row(version - 1),
      after: row(version),
      source: { version: '2.7.0.Final', connector: 'postgresql', name: topicPrefix, ts_ms: now - 5, snapshot: 'false', db: localStack.database, sequence: '[null,"123456"]', schema: 'public', table: 'account_settings', txId: 9001, lsn: 123456, xmin: null },
      op: 'u',
      ts_ms: now,
      transaction: null,
    }),
  );
}

it('a replica held back by an unwritable DLQ is not ready only while it owns the blocked partition: moved away, it is ready and the new owner dead-letters and commits past the poison event; given back, the partition is fetched again', async () => {
  admin = kafka.admin();
  await admin.connect();
  await ensureChangeTopics(topics, LOCAL_TOPIC_PARTITIONS);
  await ensureChangeTopics([writableDlq], 1);
  producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();

  // A alone owns every partition. Debug: its back-off log lines time B's arrival (below).
  const a = await startReplica('A', `${run}-a`, missingDlq, 'debug');
  await waitFor(() => settled([a]), 30_000, 'A owns every partition');
  expect((await readyz(a)).status).toBe(200);

  // Which account-topic partitions go to a second member sorted after A: a throw-away B shows it.
  const probe = await startReplica('B0', `${run}-b`, writableDlq, 'warn');
  await waitFor(() => settled([a, probe]), 45_000, 'A and B0 split the partitions');
  const secondMembers = probe.consumer.assignment[accountTopic] ?? [];
  expect(secondMembers.length).toBeGreaterThan(0);
  const partition = secondMembers[0]!;
  await stopReplica(probe);
  await waitFor(() => settled([a]), 45_000, 'A owns every partition again after B0 left');

  // (1) The poison event on that partition, A's own now: its DLQ refuses it, A is not ready.
  const poison = Buffer.from('not json at all');
  const [sent] = await producer.send({ topic: accountTopic, messages: [{ partition, key: JSON.stringify({ account_id: uniqueId('poison-') }), value: poison }] });
  const poisonOffset = BigInt(sent!.baseOffset!);
  await waitFor(async () => (await readyz(a)).status === 503, 60_000, 'A not ready while its DLQ refuses the poison event');
  expect((await readyz(a)).deadLetterFailing).toBe(true);
  expect(a.lines.filter((l) => l.level === 'error' && l.logger !== 'kafkajs' && REFUSES.test(l.msg ?? ''))).toMatchObject([{ topic: accountTopic, partition, offset: poisonOffset.toString() }]);
  expect(await committedOffset(partition)).toBeLessThanOrEqual(poisonOffset);

  // B arrives just as one of A's back-offs begins (4 s or more by the second retry: 1 s doubling
  // to 5 s), so the partition is paused in kafkajs when the rebalance takes it from A: the case
  // where A must resume it, or never fetch it again once it is given back.
  const backOffs = (): number => a.lines.filter((l) => l.msg === BACKING_OFF).length;
  await waitFor(() => backOffs() >= 1, 30_000, 'A retrying the dead letter and backing off');
  let b: Replica | undefined;
  for (let attempt = 1; !b; attempt++) {
    const seen = backOffs();
    await waitFor(() => backOffs() > seen, 30_000, 'the start of one of A\'s back-offs');
    const candidate = await startReplica(`B${attempt}`, `${run}-b`, writableDlq, 'info');
    await waitFor(() => settled([a, candidate]), 45_000, `A and ${candidate.name} split the partitions`);
    if (owns(candidate, accountTopic, partition)) b = candidate;
    else {
      // The broker's member ids did not order the members as expected: another member id.
      if (attempt === 4) throw new Error(`partition ${partition} stayed with A through ${attempt} rebalances`);
      await stopReplica(candidate);
      await waitFor(() => settled([a]), 45_000, 'A owns every partition again');
    }
  }
  expect(owns(a, accountTopic, partition)).toBe(false);

  // (2) Moved away, the partition no longer holds A back: ready again, and says which partition.
  await waitFor(async () => (await readyz(a)).status === 200, 30_000, 'A ready once the blocked partition moved to B');
  expect((await readyz(a)).deadLetterFailing).toBe(false);
  expect(await a.metrics.registry.getSingleMetricAsString('invalidator_dead_letter_publish_failing')).toContain('invalidator_dead_letter_publish_failing 0');
  expect(a.lines.filter((l) => l.msg === MOVED_AWAY)).toMatchObject([{ partition: `${accountTopic}/${partition}` }]);
  // B dead-letters the poison event (its bytes, where it came from) and commits past it.
  await waitFor(async () => (await admin!.fetchTopicOffsets(writableDlq)).some((p) => BigInt(p.high) > 0n), 30_000, 'the poison event in B\'s DLQ');
  const letters: DeadLetterRecord[] = [];
  await readDeadLetters(kafka, { topic: writableDlq, groupId: dlqReadGroup, start: { from: 'earliest' }, limit: 10, timeoutMs: 30_000 }, async (r) => void letters.push(r));
  // At least once, like any dead letter (a batch given up after its send publishes it again).
  expect(letters.length).toBeGreaterThanOrEqual(1);
  for (const letter of letters) {
    expect(letter).toMatchObject({ sourceTopic: accountTopic, sourcePartition: partition, sourceOffset: poisonOffset.toString(), reason: expect.stringMatching(/not JSON/) });
    expect(Buffer.compare(letter.value!, poison)).toBe(0);
  }
  await waitFor(async () => (await committedOffset(partition)) > poisonOffset, 30_000, 'B committed past the poison event');
  expect(await readyz(b)).toEqual({ status: 200, deadLetterFailing: false });

  // (3) B leaves; the partition comes back to A, which must fetch it again.
  await stopReplica(b);
  await waitFor(() => settled([a]), 45_000, 'A owns every partition again after B left');
  expect(owns(a, accountTopic, partition)).toBe(true);
  const version = 7;
  const [change] = await producer.send({ topic: accountTopic, messages: [{ partition, key: JSON.stringify({ account_id: account }), value: accountUpdate(version) }] });
  await waitFor(async () => fencedAtLeast(await readCache(redis, accountKey), BigInt(version)), 20_000, `the change event produced to partition ${partition} after it came back to A applied (marker of ${account})`);
  await waitFor(async () => (await committedOffset(partition)) > BigInt(change!.baseOffset!), 20_000, 'A committed past the change event');
  expect(await readyz(a)).toEqual({ status: 200, deadLetterFailing: false });
});
