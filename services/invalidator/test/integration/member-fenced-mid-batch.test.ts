import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Partitioners, type Admin, type Consumer, type Producer } from 'kafkajs';
import { CACHED_TABLES, cacheKeys, changeTopic, localStack } from '@settings/shared';
import { ChildService, deleteGroups, freePort, groupCaughtUp, httpStatus, INVALIDATOR_NODE_ARGS, localKafka, positionGroupAtEnd, testRedisEnv, withAdmin } from '@settings/local-stack';
import { deleteKeys, fencedAccounts, sql, testRedis, uniqueId, waitFor } from '../support/test-invalidator';

/**
 * README, failure modes, "member fenced mid-batch": a replica frozen in the middle of a batch
 * (SIGSTOP, as a long GC pause or a throttled container would) for longer than its session
 * timeout loses its group membership; the broker gives its partitions to the other replica,
 * which evicts from the frozen replica's last commit. Thawed, the frozen replica finishes the
 * chunk it was applying and its commit is refused (the member is unknown): the batch must be
 * abandoned like a rebalance, not crash the consumer for good. Then it rejoins, stays live and
 * ready, the group ends Stable with both members, every changed key is fenced at its row
 * version, and no committed offset ever passed an event whose eviction was not applied.
 *
 * Both replicas are processes of their own (the signals reach them as in a pod). They read
 * topics of their own (KAFKA_TOPIC_PREFIX) into which the test relays, partition for partition,
 * the real Debezium events of its one UPDATE: at 200 keys/s per replica, another test's bulk
 * change on the shared topics would otherwise be this test's backlog too.
 *
 * Chunks of 10 events are one eviction round trip each (the bucket's burst at 200 keys/s is 10
 * keys, 50 ms), so a replica frozen mid-batch is almost always waiting for its round trip's
 * tokens: thawed, it sends it, its heartbeat fails (swallowed there), the round trip was the
 * chunk's last, and the commit is what meets the fencing. The replica frozen is the one that
 * owns two of the three partitions, once both are seen committing: its two batches take turns on
 * the bucket, so one of them is mid-chunk whenever the other commits.
 */
jest.setTimeout(120_000);
const N = 3000;
const RATE = 200;
const SESSION_TIMEOUT_MS = 6000;
const prefix = uniqueId('fenced');
const groupId = uniqueId('test-fenced-');
/** The test's reader of the shared topic, whose events it relays. */
const relayGroup = uniqueId('test-fenced-relay-');
const topicPrefix = uniqueId('test-fenced-');
const topics = CACHED_TABLES.map((t) => changeTopic(topicPrefix, t));
const accountTopic = changeTopic(topicPrefix, 'account_settings');
const sharedAccountTopic = changeTopic(localStack.topicPrefix, 'account_settings');
const entry = join(__dirname, '../../dist/src/main.js');
const logDir = mkdtempSync(join(tmpdir(), 'member-fenced-'));

const redis = testRedis();
let reader: Consumer | undefined;
let producer: Producer | undefined;
let admin: Admin | undefined;
const replicas: Array<{ service: ChildService; port: number }> = [];
let stoppedPid: number | undefined;

afterAll(async () => {
  // A stopped process takes no SIGTERM until continued.
  if (stoppedPid !== undefined) {
    try {
      process.kill(stoppedPid, 'SIGCONT');
    } catch {
      /* gone */
    }
  }
  await Promise.all(replicas.map((r) => r.service.stop('SIGTERM', 10_000)));
  await reader?.disconnect().catch(() => undefined);
  await producer?.disconnect().catch(() => undefined);
  await admin?.disconnect().catch(() => undefined);
  const accounts = (await sql('SELECT account_id FROM account_settings WHERE account_id LIKE $1', [`${prefix}-%`])).map((r) => r.account_id as string);
  await deleteKeys(redis, accounts.map((a) => cacheKeys.accountSettings(a).key));
  redis.disconnect();
  await sql('DELETE FROM account_settings WHERE account_id LIKE $1', [`${prefix}-%`]);
  await withAdmin('member-fenced-test', (kafka) => kafka.deleteTopics({ topics }).catch(() => undefined));
  await deleteGroups([groupId, relayGroup]);
  rmSync(logDir, { recursive: true, force: true });
});

interface LogLine {
  msg?: string;
  level?: string;
  restart?: boolean;
  assignment?: Record<string, number[]>;
  [field: string]: unknown;
}

/** The replica's log lines (pino JSON), from byte `from` on. */
function logLines(service: ChildService, from = 0): LogLine[] {
  const text = readFileSync(service.logFile).subarray(from).toString('utf8');
  return text.split('\n').flatMap((line) => {
    if (!line.startsWith('{')) return [];
    try {
      return [JSON.parse(line) as LogLine];
    } catch {
      return [];
    }
  });
}
const logSize = (service: ChildService): number => readFileSync(service.logFile).length;
/** Partitions of the account topic the replica's last group join gave it (undefined before its first). */
function lastAssignment(service: ChildService): number[] | undefined {
  const join = logLines(service).filter((l) => l.msg === 'joined consumer group').at(-1);
  return join && (join.assignment?.[accountTopic] ?? []);
}

async function startReplica(name: string): Promise<{ service: ChildService; port: number }> {
  const port = await freePort();
  const service = new ChildService(
    name,
    entry,
    {
      SETTINGS_LOCAL_STACK: '1',
      // REDIS_CLUSTER_NODES in the jest project `cluster`.
      ...testRedisEnv(),
      KAFKA_GROUP_ID: groupId,
      KAFKA_TOPIC_PREFIX: topicPrefix,
      HTTP_PORT: String(port),
      // Info: the group joins (with their assignment), the refused commit and the abandoned batch.
      LOG_LEVEL: 'info',
      EVICTION_MAX_KEYS_PER_SECOND: String(RATE),
      REDIS_PIPELINE_SIZE: '10',
      REDIS_EVICTION_BATCH_KEYS: '10',
      BATCH_CHUNK_SIZE: '10',
      KAFKA_SESSION_TIMEOUT_MS: String(SESSION_TIMEOUT_MS),
      KAFKA_REBALANCE_TIMEOUT_MS: '10000',
      // Keep the rate at the ceiling on a loaded machine (adaptive backoff is tested elsewhere).
      REDIS_LATENCY_TARGET_MS: '2000',
    },
    join(logDir, `${name}.log`),
    { nodeArgs: INVALIDATOR_NODE_ARGS },
  );
  const replica = { service, port };
  replicas.push(replica);
  return replica;
}

/** The group's committed offset of each partition of the account topic (-1: none). */
async function committed(): Promise<Map<number, bigint>> {
  const [offsets] = await admin!.fetchOffsets({ groupId, topics: [accountTopic] });
  return new Map(offsets!.partitions.map((p) => [p.partition, BigInt(p.offset)]));
}
async function group(): Promise<{ state: string; members: number }> {
  const { groups } = await admin!.describeGroups([groupId]);
  return { state: groups[0]?.state ?? 'Dead', members: groups[0]?.members.length ?? 0 };
}

it('a replica fenced mid-batch (frozen past its session timeout) has its commit refused, abandons the batch to the new owner, rejoins and stays live; every change is evicted and no commit passes an eviction', async () => {
  admin = localKafka('member-fenced-test').admin();
  await admin.connect();
  producer = localKafka('member-fenced-test').producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();

  // The rows exist before the relay's start is fixed; only the UPDATE's events are relayed.
  await sql(`INSERT INTO account_settings (account_id) SELECT $1 || '-' || g FROM generate_series(1, ${N}) g`, [prefix]);
  await Promise.all([
    // Where the relay starts reading the shared topic: the UPDATE below comes after it.
    positionGroupAtEnd(relayGroup, { topics: [sharedAccountTopic] }),
    // Creates the test's topics (3 partitions each) and commits offset 0 on every partition.
    positionGroupAtEnd(groupId, { topics }),
  ]);
  await sql(`UPDATE account_settings SET display_name = 'fenced mid-batch' WHERE account_id LIKE $1`, [`${prefix}-%`]);
  const versions: Array<readonly [string, bigint]> = (await sql('SELECT account_id, version FROM account_settings WHERE account_id LIKE $1', [`${prefix}-%`])).map((r) => [r.account_id as string, BigInt(r.version as string)] as const);
  expect(versions).toHaveLength(N);
  const accountSet = new Set(versions.map(([a]) => a));

  // The UPDATE's Debezium events, as Debezium wrote them, by partition.
  const byPartition = new Map<number, Map<string, { key: Buffer | null; value: Buffer | null }>>();
  let seen = 0;
  const relayReader = localKafka('member-fenced-test').consumer({ groupId: relayGroup, maxWaitTimeInMs: 100 });
  reader = relayReader;
  await relayReader.connect();
  await relayReader.subscribe({ topics: [sharedAccountTopic] });
  await relayReader.run({
    eachMessage: async ({ partition, message }) => {
      let value: { op?: string; after?: { account_id?: string } } | undefined;
      try {
        value = message.value ? (JSON.parse(message.value.toString('utf8')) as typeof value) : undefined;
      } catch {
        return;
      }
      const account = value?.after?.account_id;
      if (value?.op !== 'u' || account === undefined || !accountSet.has(account)) return;
      let events = byPartition.get(partition);
      if (!events) byPartition.set(partition, (events = new Map()));
      if (!events.has(account)) seen++;
      events.set(account, { key: message.key, value: message.value });
    },
  });
  await waitFor(() => seen === N, 60_000, "the UPDATE's change events on the shared topic");
  await relayReader.disconnect();
  // Relayed to the same partition of the test's own topic; each event's offset there, for the
  // commit-after-eviction check.
  const accountAt = new Map<string, string>(); // `${partition}:${offset}` → account
  for (const [partition, events] of byPartition) {
    const list = [...events];
    for (let i = 0; i < list.length; i += 500) {
      const slice = list.slice(i, i + 500);
      const [meta] = await producer.send({ topic: accountTopic, acks: -1, messages: slice.map(([, e]) => ({ partition, key: e.key, value: e.value })) });
      slice.forEach(([account], j) => accountAt.set(`${partition}:${BigInt(meta!.baseOffset!) + BigInt(j)}`, account));
    }
  }
  const partitionSizes = [...byPartition].map(([p, e]) => `${p}:${e.size}`).join(' ');

  // Sampled throughout: committed offsets first, then what Redis holds fenced. Fences only move
  // up, so an event below a committed offset that is not fenced after it was a commit past an
  // eviction not applied.
  const violations = new Set<string>();
  let samples = 0;
  let sampling = true;
  let samplerError: unknown;
  const sampler = (async () => {
    while (sampling) {
      const offsets = await committed();
      const fenced = new Set(await fencedAccounts(redis, versions));
      for (const [at, account] of accountAt) {
        const [p, o] = at.split(':');
        if (BigInt(o!) < (offsets.get(Number(p)) ?? -1n) && !fenced.has(account)) violations.add(`${at} (${account})`);
      }
      samples++;
      await new Promise((r) => setTimeout(r, 200));
    }
  })().catch((err: unknown) => {
    samplerError = err;
  });

  try {
    const [first, second] = await Promise.all([startReplica('replica-1'), startReplica('replica-2')]);
    // Both members, one generation: their assignments of the account topic split its partitions.
    await waitFor(
      async () => {
        const a = lastAssignment(first!.service);
        const b = lastAssignment(second!.service);
        if (!a || !b || a.length + b.length !== 3 || new Set([...a, ...b]).size !== 3) return false;
        const g = await group();
        return g.state === 'Stable' && g.members === 2;
      },
      60_000,
      'both replicas in one generation of the group',
    );
    // The replica with two partitions of the account topic is frozen, the other one takes over.
    const [frozen, other] = lastAssignment(first!.service)!.length === 2 ? [first!, second!] : [second!, first!];
    const frozenPartitions = lastAssignment(frozen.service)!;
    const ends = new Map([...byPartition].map(([p, e]) => [p, BigInt(e.size)]));

    // Frozen while both of its batches apply chunks: both partitions commit, and enough is left.
    let before = await committed();
    await waitFor(
      async () => {
        await new Promise((r) => setTimeout(r, 400));
        const now = await committed();
        const advancing = frozenPartitions.every((p) => now.get(p)! > before.get(p)! && ends.get(p)! - now.get(p)! >= 200);
        before = now;
        return advancing;
      },
      60_000,
      'both partitions of the replica to freeze committing, each with 200 events or more left',
    );
    process.kill(frozen.service.pid, 'SIGSTOP');
    stoppedPid = frozen.service.pid;
    const stoppedAt = Date.now();
    // A commit written just before the stop still lands.
    await new Promise((r) => setTimeout(r, 500));
    const frozenAt = await committed();

    // Its session expires; the other replica owns all three partitions and evicts from the frozen
    // one's last commit: the chunk in progress is redelivered to the partition's new owner.
    await waitFor(
      async () => {
        const g = await group();
        if (g.state !== 'Stable' || g.members !== 1) return false;
        const now = await committed();
        return frozenPartitions.every((p) => now.get(p)! > frozenAt.get(p)!);
      },
      45_000,
      "the frozen replica's session to expire and the other replica to commit on its partitions",
    );
    const stoppedMs = Date.now() - stoppedAt;
    expect(stoppedMs).toBeGreaterThan(SESSION_TIMEOUT_MS);
    const thawedFrom = logSize(frozen.service);
    process.kill(frozen.service.pid, 'SIGCONT');
    stoppedPid = undefined;

    // Thawed: the refused commit abandons the batch, and kafkajs rejoins (or the consumer crashed).
    const outcome = (l: LogLine): boolean => l.msg === 'joined consumer group' || l.msg === 'consumer crashed';
    await waitFor(() => logLines(frozen.service, thawedFrom).some(outcome), 30_000, 'the thawed replica to rejoin its group (or crash)');
    const afterThaw = (): LogLine[] => logLines(frozen.service, thawedFrom);
    expect(afterThaw().filter((l) => l.msg === 'consumer crashed')).toEqual([]);
    expect(afterThaw().filter((l) => l.msg === 'commit refused: this member left the group meanwhile').length).toBeGreaterThan(0);
    expect(afterThaw().filter((l) => l.msg?.startsWith('batch abandoned')).length).toBeGreaterThan(0);

    // Everything evicted, everything committed, both members in the group, both live and ready.
    await waitFor(async () => (await fencedAccounts(redis, versions)).length === N, 60_000, 'every updated key fenced at its row version');
    await waitFor(() => groupCaughtUp(groupId, topics), 30_000, "the group's offsets committed to the topic ends");
    await waitFor(async () => {
      const g = await group();
      return g.state === 'Stable' && g.members === 2;
    }, 30_000, 'the group Stable with both members');
    for (const r of [frozen, other]) {
      expect(r.service.exit).toBeUndefined();
      expect(await httpStatus(r.port, '/healthz')).toBe(200);
      expect(await httpStatus(r.port, '/readyz')).toBe(200);
      expect(logLines(r.service).filter((l) => l.msg === 'consumer crashed' && l.restart === false)).toEqual([]);
    }
    sampling = false;
    await sampler;
    const refused = afterThaw().filter((l) => l.msg === 'commit refused: this member left the group meanwhile');
    process.stderr.write(
      `[measure] fenced mid-batch: partitions ${partitionSizes}; froze the owner of ${frozenPartitions.join(',')} at ${frozenPartitions.map((p) => `${p}@${frozenAt.get(p)}/${ends.get(p)}`).join(' ')} for ${stoppedMs} ms; ` +
        `${refused.length} commit(s) refused (${[...new Set(refused.map((l) => String(l.err)))].join('; ')}); ${samples} commit/eviction samples\n`,
    );
    expect(samplerError).toBeUndefined();
    expect(samples).toBeGreaterThan(10);
    expect([...violations]).toEqual([]);
  } finally {
    sampling = false;
    await sampler;
  }
});
