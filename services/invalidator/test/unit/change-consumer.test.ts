import { KafkaJSNonRetriableError, KafkaJSProtocolError, type ConsumerConfig, type EachBatchPayload, type Kafka, type ProducerRecord } from 'kafkajs';
import { createLogger, type CacheRedisClient } from '@settings/shared';
import { RedisHealthProbe } from '../../src/backpressure/redis-health-probe';
import { ChangeConsumer } from '../../src/consumer/change-consumer';
import { BatchAbortedError, type ApplyHooks, type RedisEvictor } from '../../src/eviction/redis-evictor';
import type { DeadLetter } from '../../src/consumer/dead-letter-publisher';
import { createInvalidatorMetrics } from '../../src/metrics';

/**
 * ChangeConsumer against a fake kafkajs consumer that records pause/resume (and throws like
 * kafkajs while its consumer group is gone) and a fake producer (`send`).
 */
function harness(send: (record: ProducerRecord) => Promise<unknown> = async () => [], extraOptions: { groupInstanceId?: string; dlqMaxAttempts?: number; dlqSendTimeoutMs?: number } = {}) {
  const handlers = new Map<string, (e: { payload: Record<string, unknown> }) => void>();
  const calls: string[] = [];
  /** pause/resume with what they named. */
  const args: string[] = [];
  let groupGone = false;
  const fakeConsumer = {
    events: { GROUP_JOIN: 'consumer.group_join', CRASH: 'consumer.crash', STOP: 'consumer.stop' },
    on: (name: string, fn: (e: { payload: Record<string, unknown> }) => void) => void handlers.set(name, fn),
    pause: (topicPartitions: unknown) => {
      if (groupGone) throw new KafkaJSNonRetriableError('Consumer group was not initialized, consumer#run must be called first');
      calls.push('pause');
      args.push(`pause ${JSON.stringify(topicPartitions)}`);
    },
    commitOffsets: async () => undefined,
    /** consumer.run(): the restart after a crash calls it again. */
    run: async () => void calls.push('run'),
    resume: (topicPartitions: unknown) => {
      if (groupGone) throw new KafkaJSNonRetriableError('Consumer group was not initialized, consumer#run must be called first');
      calls.push('resume');
      args.push(`resume ${JSON.stringify(topicPartitions)}`);
    },
  };
  /** What ChangeConsumer gave kafka.consumer(): its retry options hold the crash-restart hook. */
  let consumerConfig: ConsumerConfig | undefined;
  const kafka = {
    consumer: (config: ConsumerConfig) => {
      consumerConfig = config;
      return fakeConsumer;
    },
    producer: () => ({ send }),
  } as unknown as Kafka;
  const lines: Array<Record<string, unknown>> = [];
  const log = createLogger('test', 'info', { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) });
  const metrics = createInvalidatorMetrics();
  const probe = new RedisHealthProbe({ isCluster: false, options: { host: '127.0.0.1', port: 6379 }, set: async () => 'OK' } as unknown as CacheRedisClient, { intervalMs: 1000 }, log);
  const options = { groupId: 'g', topics: ['t1', 't2'], dlqTopic: 'dlq', chunkSize: 10, sessionTimeoutMs: 30_000, rebalanceTimeoutMs: 30_000, dlqMaxAttempts: 3, dlqMaxSendBytes: 16 * 1024, dlqSendTimeoutMs: 10_000, ...extraOptions };
  const evictor = { apply: async () => ({ written: 0 }) } as unknown as RedisEvictor;
  const consumer = new ChangeConsumer(kafka, evictor, probe, options, log, metrics);
  return {
    consumer,
    consumerConfig: () => consumerConfig!,
    probe,
    calls,
    args,
    lines,
    metrics,
    pausedGauge: async () => (await metrics.registry.getSingleMetricAsString('invalidator_consumer_paused')).trim().split('\n').pop(),
    /** kafkajs' CRASH with restart: the consumer group is gone until the restarted one joins. */
    crash: (error: Error = new Error('Connection error: ECONNREFUSED'), restart = true) => {
      groupGone = true;
      handlers.get('consumer.crash')!({ payload: { error, restart } });
    },
    rejoin: (memberAssignment: Record<string, number[]> = { t1: [0] }) => {
      groupGone = false;
      handlers.get('consumer.group_join')!({ payload: { memberId: 'm2', memberAssignment } });
    },
  };
}

/** A change event of `table` (update of account `acct-<i>` to version 5) at offset `i`. */
const changeMessage = (i: number, table = 'account_settings') => ({
  offset: String(i),
  key: null,
  value: Buffer.from(JSON.stringify({ op: 'u', before: null, after: { account_id: `acct-${i}`, version: 5 }, source: { schema: 'public', table, ts_ms: 1 }, ts_ms: 1 })),
});

/** What kafkajs hands eachBatch for `messages` of partition 0 of the account topic, never stale. */
const batchOf = (messages: Array<{ offset: string; key: null; value: Buffer }>): EachBatchPayload =>
  ({
    batch: { topic: 'settings.public.account_settings', partition: 0, messages, offsetLag: () => '0' },
    resolveOffset: () => undefined,
    heartbeat: async () => undefined,
    isRunning: () => true,
    isStale: () => false,
  }) as unknown as EachBatchPayload;

describe('ChangeConsumer pause for Redis, while kafkajs restarts its consumer', () => {
  it('a resume that throws leaves it paused (warned once); the restarted group is paused on join; a later healthy probe resumes it', async () => {
    const h = harness();
    h.consumer['pauseForRedis'](new Error('Redis down'));
    expect(h.consumer.paused).toBe(true);
    expect(h.calls).toEqual(['pause']);

    h.crash();
    await expect(h.probe.probe()).resolves.toBe(true);
    await expect(h.probe.probe()).resolves.toBe(true);
    expect(h.consumer.paused).toBe(true);
    expect(await h.pausedGauge()).toBe('invalidator_consumer_paused 1');
    expect(h.lines.filter((l) => l.level === 'warn' && /could not be resumed/.test(String(l.msg)))).toHaveLength(1);
    expect(h.lines.filter((l) => l.level === 'error' && l.msg === 'Redis health probe listener failed')).toHaveLength(0);

    // kafkajs' restart joins with a fresh, unpaused group: paused again before its first fetch.
    h.rejoin();
    expect(h.calls).toEqual(['pause', 'pause']);
    expect(h.consumer.paused).toBe(true);

    await expect(h.probe.probe()).resolves.toBe(true);
    expect(h.calls).toEqual(['pause', 'pause', 'resume']);
    expect(h.consumer.paused).toBe(false);
    expect(await h.pausedGauge()).toBe('invalidator_consumer_paused 0');
    // Resumed: a later join does not pause.
    h.rejoin();
    expect(h.calls).toEqual(['pause', 'pause', 'resume']);
  });
});

describe('ChangeConsumer dead letters', () => {
  const letters: DeadLetter[] = Array.from({ length: 100 }, (_, i) => ({
    topic: 'settings.public.account_settings',
    partition: 0,
    offset: String(1000 + i),
    key: Buffer.from(`{"account_id":"acct-${i}"}`),
    value: Buffer.alloc(500, 'x'),
    reason: 'not JSON: Unexpected token',
    category: 'not-json',
  }));
  const topic = letters[0]!.topic;
  const hooks: ApplyHooks = { heartbeat: async () => undefined, shouldAbort: () => false, onRedisDown: () => undefined, onRedisUp: () => undefined };
  const offsetsOf = (r: ProducerRecord): string[] => r.messages.map((m) => String((m.headers as Record<string, string>)['dlq.source.offset']));
  const onPartition = (partition: number, n = 3): DeadLetter[] => letters.slice(0, n).map((l) => ({ ...l, partition }));
  const partitionOf = (r: ProducerRecord): string => String((r.messages[0]!.headers as Record<string, string>)['dlq.source.partition']);
  /** The harness's consumer with its commits recorded (`topic/partition@offset`) and state running. */
  const running = (h: ReturnType<typeof harness>): string[] => {
    const commits: string[] = [];
    (h.consumer as unknown as { consumer: { commitOffsets: (o: Array<{ topic: string; partition: number; offset: string }>) => Promise<void> } }).consumer.commitOffsets = async (o) =>
      void commits.push(`${o[0]!.topic}/${o[0]!.partition}@${o[0]!.offset}`);
    h.consumer.state = 'running';
    return commits;
  };
  const out = (h: ReturnType<typeof harness>, held: DeadLetter[], last = '1099', withHooks: ApplyHooks = hooks): Promise<boolean> =>
    h.consumer['deadLettersOut'](held[0]!.topic, held[0]!.partition, held, last, withHooks);
  const heldGauge = async (h: ReturnType<typeof harness>): Promise<number> => (await h.metrics.deadLettersHeld.get()).values[0]!.value;
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  it('are published in several sends, in order, before the chunk may commit', async () => {
    const sent: string[][] = [];
    const h = harness(async (record) => void sent.push(offsetsOf(record)));
    running(h);
    await expect(out(h, letters)).resolves.toBe(true);
    expect(sent.length).toBeGreaterThan(2);
    expect(sent.flat()).toEqual(letters.map((l) => l.offset));
    expect(h.consumer.deadLetterFailing).toBe(false);
    expect(await heldGauge(h)).toBe(0);
  });

  it('a failed publish neither retries in place nor pauses the partition (that held back every other partition this replica fetches from that broker, ~25 s at the defaults): the chunk is not committed, and after the back-off the retry publishes them all and commits what was evicted', async () => {
    const sent: string[][] = [];
    let calls = 0;
    const h = harness(async (record) => {
      // The second send fails once (a broker timeout, say).
      if (++calls === 2) throw new Error('Request timed out');
      sent.push(offsetsOf(record));
      return [];
    }, { dlqMaxAttempts: 8 });
    const commits = running(h);
    const started = performance.now();
    await expect(out(h, letters)).resolves.toBe(false);
    // No back-off inside the batch (in place, the seven back-offs of 8 attempts took over 11 s).
    expect(performance.now() - started).toBeLessThan(1000);
    expect(h.args).toEqual([]);
    expect(h.consumer.deadLetterFailing).toBe(false);
    expect(h.lines.filter((l) => l.level === 'warn' && /commits nothing past it/.test(String(l.msg)))).toHaveLength(1);
    // The first send's letters are out; the rest are held.
    expect(await heldGauge(h)).toBe(letters.length - sent[0]!.length);
    expect(commits).toEqual([]);
    // No batch comes (no new change on the partition): the retry timer, 250 ms later.
    await sleep(450);
    expect(sent.flat()).toEqual(letters.map((l) => l.offset));
    expect(commits).toEqual([`${topic}/0@1100`]);
    expect(await heldGauge(h)).toBe(0);
  });

  it('heartbeat while a send waits for a broker that does not answer (kafkajs waits up to its 30 s request timeout, longer than a session)', async () => {
    const h = harness(() => new Promise((resolve) => setTimeout(() => resolve([]), 1200)));
    running(h);
    const beats: number[] = [];
    await out(h, letters.slice(0, 3), '1099', { ...hooks, heartbeat: async () => void beats.push(performance.now()) });
    // Every 250 ms of the 1.2 s send; none before, when the send was awaited bare.
    expect(beats.length).toBeGreaterThanOrEqual(3);
  });

  it('a send the broker never answers fails its attempt after DLQ_SEND_TIMEOUT_MS (the batch held this replica\'s fetches from that broker for the client\'s 30 s request timeout on each of the producer\'s tries)', async () => {
    const h = harness(() => new Promise(() => undefined), { dlqSendTimeoutMs: 300 });
    running(h);
    const started = performance.now();
    await expect(out(h, letters.slice(0, 3))).resolves.toBe(false);
    const took = performance.now() - started;
    expect(took).toBeGreaterThanOrEqual(290);
    expect(took).toBeLessThan(1500);
    const warned = h.lines.filter((l) => l.level === 'warn' && /dead-letter publish failed/.test(String(l.msg)));
    expect(warned).toHaveLength(1);
    expect(warned[0]!.err).toMatchObject({ message: expect.stringMatching(/within 300 ms \(DLQ_SEND_TIMEOUT_MS\)/) });
    h.consumer['dropHeld'](h.consumer['held'].get(`${topic}/0`));
  });

  it('a partition whose dead letters keep failing is not ready once DLQ_MAX_ATTEMPTS attempts failed, counted across attempts (here the retry timer\'s; other partitions go on); the join that moves it away releases it and stops its retries', async () => {
    // Partition 0's dead letters always fail; partition 1's are published.
    let partition0Sends = 0;
    const h = harness(async (record) => {
      if (partitionOf(record) === '0') {
        partition0Sends++;
        throw new Error('TOPIC_AUTHORIZATION_FAILED');
      }
      return [];
    }, { dlqMaxAttempts: 2 });
    running(h);
    await expect(out(h, onPartition(0))).resolves.toBe(false);
    expect(h.consumer.deadLetterFailing).toBe(false);
    await expect(out(h, onPartition(1))).resolves.toBe(true);
    // The retry 250 ms later is the second failed attempt: not ready, one error naming where.
    await sleep(400);
    expect(h.consumer.deadLetterFailing).toBe(true);
    // Another 500 ms: a third attempt, still one error line.
    await sleep(650);
    expect(partition0Sends).toBe(3);
    const errors = h.lines.filter((l) => l.level === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ attempts: 2, partition: 0, offset: '1000' });
    expect(h.args).toEqual([]);

    // A rebalance gives partition 0 to another member (it fetches it from the committed offset):
    // nothing holds this replica back any more, and nothing retries here.
    h.rejoin({ [topic]: [1] });
    expect(h.consumer.deadLetterFailing).toBe(false);
    expect(await heldGauge(h)).toBe(0);
    await sleep(1200);
    expect(partition0Sends).toBe(3);
  });

  it('a partition holding more than 16 MiB of unpublished dead letters is paused until its next attempt, and its chunk fetched again (not resolved)', async () => {
    const h = harness(async () => {
      throw new Error('TOPIC_AUTHORIZATION_FAILED');
    });
    running(h);
    const big: DeadLetter[] = Array.from({ length: 17 }, (_, i) => ({ ...letters[0]!, offset: String(2000 + i), value: Buffer.alloc(1024 * 1024) }));
    await expect(out(h, big.slice(0, 15), '2014')).resolves.toBe(false);
    expect(h.args).toEqual([]);
    // Past 16 MiB: paused, the chunk given up.
    await expect(out(h, big.slice(15), '2016')).rejects.toBeInstanceOf(BatchAbortedError);
    expect(h.args).toEqual([`pause [{"topic":"${topic}","partitions":[0]}]`]);
    expect(h.lines.filter((l) => /too many unpublished dead letters/.test(String(l.msg)))).toHaveLength(1);
    await sleep(400);
    expect(h.args.slice(1)).toEqual([`resume [{"topic":"${topic}","partitions":[0]}]`]);
    h.consumer['dropHeld'](h.consumer['held'].get(`${topic}/0`));
  });

  it('a group join during a batch (kafkajs rejoins from another broker\'s fetch while batches run) that moves the partition away stops the batch: nothing is committed past the letters it held', async () => {
    const h = harness(async () => {
      throw new Error('TOPIC_AUTHORIZATION_FAILED');
    });
    let chunks = 0;
    (h.consumer as unknown as { evictor: RedisEvictor }).evictor = {
      apply: async (markers: unknown[]) => {
        // The second chunk's round trip: meanwhile the group is joined again without partition 0.
        if (++chunks === 2) h.rejoin({ [topic]: [1] });
        return { written: markers.length };
      },
    } as unknown as RedisEvictor;
    const commits = running(h);
    // Chunks of 10: the poison event at offset 5 is held; 10-19 are clean.
    const messages = Array.from({ length: 20 }, (_, i) => (i === 5 ? { offset: '5', key: null, value: Buffer.from('not json at all') } : changeMessage(i)));
    await h.consumer['handleBatch'](batchOf(messages));
    // Before, the join dropped the held letter and the clean chunk committed 20: its new owner
    // started after the poison event, which was never dead-lettered.
    expect(commits).toEqual([]);
    expect(await heldGauge(h)).toBe(0);
  });

  it('an attempt that ends after its partition moved away and came back neither releases nor counts for the new holder of that partition', async () => {
    const sends: Array<{ offsets: string[]; settle: (ok: boolean) => void }> = [];
    const h = harness(
      (record) =>
        new Promise((resolve, reject) => {
          sends.push({ offsets: offsetsOf(record), settle: (ok) => (ok ? resolve([]) : reject(new Error('Request timed out'))) });
        }),
      { dlqMaxAttempts: 1 },
    );
    running(h);
    // First holder: its attempt is in flight.
    const first = out(h, onPartition(0, 1));
    await sleep(10);
    expect(sends).toHaveLength(1);
    // Moved away and given back: a batch holds the letter again, and a new one, in a new holder.
    h.rejoin({ [topic]: [1] });
    h.rejoin({ [topic]: [0, 1] });
    const second = out(h, onPartition(0, 2), '1001');
    await sleep(10);
    expect(sends).toHaveLength(2);
    // The old attempt succeeds late: the new holder keeps its letters, nothing is published for it.
    sends[0]!.settle(true);
    await expect(first).resolves.toBe(false);
    expect(await heldGauge(h)).toBe(2);
    // The new attempt fails: counted once, for the new holder.
    sends[1]!.settle(false);
    await expect(second).resolves.toBe(false);
    expect(h.consumer.deadLetterFailing).toBe(true);
    expect(await heldGauge(h)).toBe(2);
    h.consumer['dropHeld'](h.consumer['held'].get(`${topic}/0`));
  });

  it('an attempt that fails after its partition moved away does not make the replica not ready (nothing would clear it)', async () => {
    let fail!: () => void;
    const h = harness(() => new Promise((_, reject) => (fail = () => reject(new Error('Request timed out')))), { dlqMaxAttempts: 1 });
    running(h);
    const attempt = out(h, onPartition(0, 1));
    await sleep(10);
    h.rejoin({ [topic]: [1] });
    fail();
    await expect(attempt).resolves.toBe(false);
    expect(h.consumer.deadLetterFailing).toBe(false);
    expect(h.lines.filter((l) => l.level === 'error')).toHaveLength(0);
  });

  it('a partition holding more than 16 MiB of unpublished dead letters is paused until the next attempt (a flood of malformed events does not grow the heap); paused for Redis, its pause waits for the Redis resume', async () => {
    const h = harness(async () => {
      throw new Error('TOPIC_AUTHORIZATION_FAILED');
    });
    running(h);
    const big: DeadLetter[] = Array.from({ length: 17 }, (_, i) => ({ ...letters[0]!, offset: String(2000 + i), value: Buffer.alloc(1024 * 1024) }));
    h.consumer['pauseForRedis'](new Error('ECONNREFUSED'));
    expect(h.args).toEqual(['pause [{"topic":"t1"},{"topic":"t2"}]']);
    // kafkajs would end the whole-topic pause if some of its partitions were paused now.
    await expect(out(h, big, '2016')).rejects.toBeInstanceOf(BatchAbortedError);
    expect(h.args).toHaveLength(1);
    h.consumer['resumeAfterRedis']();
    expect(h.args.slice(1)).toEqual(['resume [{"topic":"t1"},{"topic":"t2"}]', `pause [{"topic":"${topic}","partitions":[0]}]`]);
    // ... until the next attempt's time (250 ms).
    await sleep(400);
    expect(h.args.slice(3)).toEqual([`resume [{"topic":"${topic}","partitions":[0]}]`]);
    h.consumer['dropHeld'](h.consumer['held'].get(`${topic}/0`));
  });

  it('letters fetched again (a rebalance re-fetches from the committed offset) are held once; the replica stays not ready while the partition stays with it', async () => {
    const h = harness(async () => {
      throw new Error('TOPIC_AUTHORIZATION_FAILED');
    }, { dlqMaxAttempts: 1 });
    running(h);
    await expect(out(h, onPartition(0))).resolves.toBe(false);
    expect(h.consumer.deadLetterFailing).toBe(true);
    h.rejoin({ [topic]: [0, 1] });
    await expect(out(h, onPartition(0))).resolves.toBe(false);
    expect(await heldGauge(h)).toBe(3);
    expect(h.consumer.deadLetterFailing).toBe(true);
    expect((await h.metrics.deadLetterFailing.get()).values[0]!.value).toBe(1);
    h.rejoin({ [topic]: [1] });
    expect(h.consumer.deadLetterFailing).toBe(false);
    expect((await h.metrics.deadLetterFailing.get()).values[0]!.value).toBe(0);
  });

  it('a partition whose dead letters are published by a later attempt is ready again and commits what was evicted meanwhile', async () => {
    let refuse = true;
    const h = harness(async () => {
      if (refuse) throw new Error('UNKNOWN_TOPIC_OR_PARTITION');
      return [];
    }, { dlqMaxAttempts: 1 });
    const commits = running(h);
    await expect(out(h, onPartition(0), '1002')).resolves.toBe(false);
    expect(h.consumer.deadLetterFailing).toBe(true);
    // A later chunk with no dead letters of its own: evicted, within the back-off, not committed.
    await expect(h.consumer['deadLettersOut'](topic, 0, [], '1500', hooks)).resolves.toBe(false);
    refuse = false;
    await sleep(400);
    expect(h.consumer.deadLetterFailing).toBe(false);
    expect(commits).toEqual([`${topic}/0@1501`]);
  });

  it('the changes of a batch whose dead letters cannot be published are all evicted, and so are those of the batches after it; nothing is committed from the failing chunk on until they are published', async () => {
    let refuse = true;
    const h = harness(async () => {
      if (refuse) throw new Error('TOPIC_AUTHORIZATION_FAILED');
      return [];
    });
    const evicted: string[] = [];
    (h.consumer as unknown as { evictor: RedisEvictor }).evictor = {
      apply: async (markers: Array<{ key: string }>) => {
        evicted.push(...markers.map((m) => m.key));
        return { written: markers.length };
      },
    } as unknown as RedisEvictor;
    const commits = running(h);
    // Chunks of 10: 0-9 commit; the poison event is offset 12, in the second chunk; 25 events.
    const messages = Array.from({ length: 25 }, (_, i) => (i === 12 ? { offset: '12', key: null, value: Buffer.from('not json at all') } : changeMessage(i)));
    await h.consumer['handleBatch'](batchOf(messages));
    // Before, the chunk's dead letters were published before its evictions, and a failure gave
    // the batch up: the poison's chunk and everything behind it stayed stale.
    expect(evicted).toHaveLength(24);
    expect(commits).toEqual([`${topic}/0@10`]);
    expect(h.args).toEqual([]);
    // The next batch, changes 25-29, within the back-off: evicted, not committed.
    await h.consumer['handleBatch'](batchOf(Array.from({ length: 5 }, (_, i) => changeMessage(25 + i))));
    expect(evicted).toHaveLength(29);
    expect(commits).toEqual([`${topic}/0@10`]);
    // The dead-letter topic takes writes again: the retry publishes and commits past them all.
    refuse = false;
    await sleep(400);
    expect(commits).toEqual([`${topic}/0@10`, `${topic}/0@30`]);
  });
});


describe('ChangeConsumer metrics', () => {
  it('names only the key map\'s tables in invalidator_events_consumed_total: an event of any other table counts as "other"', async () => {
    const h = harness();
    const messages = [changeMessage(0), ...Array.from({ length: 20 }, (_, i) => changeMessage(i + 1, `crafted_${i}`))];
    h.consumer.state = 'running';
    await h.consumer['handleBatch'](batchOf(messages));
    const { values } = await h.metrics.eventsConsumed.get();
    expect(values.map((v) => [v.labels.table, v.value]).sort()).toEqual([
      ['account_settings', 1],
      ['other', 20],
    ]);
  });
});

describe('ChangeConsumer on a rebalance', () => {
  it('abandons every batch in progress when the heartbeat of any one reports it (kafkajs sends one heartbeat per interval, whichever batch asks)', async () => {
    const h = harness();
    const commits: number[] = [];
    (h.consumer as unknown as { consumer: { commitOffsets: (o: Array<{ partition: number }>) => Promise<void> } }).consumer.commitOffsets = async (o) => void commits.push(o[0]!.partition);
    let heardRebalance!: () => void;
    const rebalanceHeard = new Promise<void>((resolve) => (heardRebalance = resolve));
    // Partition 0's round trip heartbeats and hears the rebalance; partition 1's round trip is
    // slower and never heartbeats itself before it checks whether to go on.
    (h.consumer as unknown as { evictor: RedisEvictor }).evictor = {
      apply: async (_m: unknown, _b: unknown, hooks: ApplyHooks) => {
        if (!hooks.shouldAbort()) {
          await hooks.heartbeat().catch(() => undefined);
          await rebalanceHeard;
        }
        if (hooks.shouldAbort()) throw new BatchAbortedError();
        return { written: 1 };
      },
    } as unknown as RedisEvictor;
    const event = (i: number) => ({ offset: String(i), key: null, value: Buffer.from(JSON.stringify({ op: 'u', before: null, after: { account_id: `acct-${i}`, version: 5 }, source: { schema: 'public', table: 'account_settings', ts_ms: 1 }, ts_ms: 1 })) });
    const payload = (partition: number, heartbeat: () => Promise<void>) =>
      ({ batch: { topic: 'settings.public.account_settings', partition, messages: [event(1)], offsetLag: () => '0' }, resolveOffset: () => undefined, heartbeat, isRunning: () => true, isStale: () => false }) as unknown as EachBatchPayload;
    h.consumer.state = 'running';
    const rebalance = Object.assign(new Error('The group is rebalancing, so a rejoin is needed'), { type: 'REBALANCE_IN_PROGRESS' });
    const batches = Promise.all([
      h.consumer['handleBatch'](payload(0, async () => {
        heardRebalance();
        throw rebalance;
      })),
      h.consumer['handleBatch'](payload(1, async () => undefined)),
    ]);
    await batches;
    // Neither committed: partition 1's batch never saw the error itself.
    expect(commits).toEqual([]);
    expect((await h.metrics.batchesAborted.get()).values[0]!.value).toBe(2);
  });
});

describe('ChangeConsumer when the group fenced this member during a batch', () => {
  it('a commit refused ILLEGAL_GENERATION (wrapped by kafkajs\' retrier) abandons the batch for redelivery instead of crashing the consumer', async () => {
    const h = harness();
    const fenced = new KafkaJSProtocolError({ message: 'Specified group generation id is not valid', type: 'ILLEGAL_GENERATION', code: 22, retriable: false } as unknown as Error);
    // What kafkajs' retrier rejects with when the error is not retriable: no `type` of its own.
    const wrapped = new (KafkaJSNonRetriableError as unknown as new (e: Error, o: { cause: Error }) => Error)(fenced, { cause: fenced });
    (h.consumer as unknown as { consumer: { commitOffsets: () => Promise<void> } }).consumer.commitOffsets = () => Promise.reject(wrapped);
    const event = { offset: '7', key: null, value: Buffer.from(JSON.stringify({ op: 'u', before: null, after: { account_id: 'acct-7', version: 5 }, source: { schema: 'public', table: 'account_settings', ts_ms: 1 }, ts_ms: 1 })) };
    const oneEvent = () =>
      ({ batch: { topic: 'settings.public.account_settings', partition: 0, messages: [event], offsetLag: () => '0' }, resolveOffset: () => undefined, heartbeat: async () => undefined, isRunning: () => true, isStale: () => false }) as unknown as EachBatchPayload;
    h.consumer.state = 'running';
    await expect(
      h.consumer['handleBatch'](oneEvent()),
    ).resolves.toBeUndefined();
    expect((await h.metrics.batchesAborted.get()).values[0]!.value).toBe(1);
    // Any other error of a commit still fails the batch (kafkajs retries or restarts).
    (h.consumer as unknown as { consumer: { commitOffsets: () => Promise<void> } }).consumer.commitOffsets = () => Promise.reject(new Error('Connection error'));
    await expect(
      h.consumer['handleBatch'](oneEvent()),
    ).rejects.toThrow('Connection error');
  });
});

describe('ChangeConsumer restarting its consumer after a crash', () => {
  afterEach(() => jest.useRealTimers());

  it('restarts within 2 s however long kafkajs was backing off: a broker back from an outage is rejoined at once', async () => {
    jest.useFakeTimers();
    const h = harness();
    h.consumer['runConfig'] = { eachBatch: async () => undefined };
    h.consumer.state = 'running';
    // kafkajs' connection retrier gives up with its current back-off, which grows to 30 s
    // during an outage (seen: 14,232 ms, the broker back 3 s after the crash).
    const outage = Object.assign(new Error('Connection error: connect ECONNREFUSED 127.0.0.1:9092'), { retryTime: 14_232 });
    expect(await h.consumerConfig().retry!.restartOnFailure!(outage)).toBe(false);
    await jest.advanceTimersByTimeAsync(2_000);
    expect(h.calls.filter((c) => c === 'run')).toHaveLength(1);
  });

  it('counts each crash in invalidator_consumer_crashes_total by whether it restarts (kafkajs asks restartOnFailure before it reports the crash)', async () => {
    jest.useFakeTimers();
    const h = harness();
    h.consumer['runConfig'] = { eachBatch: async () => undefined };
    h.consumer.state = 'running';
    const outage = new Error('Connection error: connect ECONNREFUSED 127.0.0.1:9092');
    await h.consumerConfig().retry!.restartOnFailure!(outage);
    h.crash(outage);
    const crashes = async (restarted: string): Promise<number | undefined> => (await h.metrics.consumerCrashes.get()).values.find((v) => v.labels.restarted === restarted)?.value;
    expect(await crashes('true')).toBe(1);
    expect(await crashes('false')).toBe(0);
    expect(h.consumer.state).toBe('running');
  });

  it('keeps a shorter back-off kafkajs asked for (300 ms by default)', async () => {
    jest.useFakeTimers();
    const h = harness();
    h.consumer['runConfig'] = { eachBatch: async () => undefined };
    h.consumer.state = 'running';
    await h.consumerConfig().retry!.restartOnFailure!(new Error('The coordinator is loading'));
    await jest.advanceTimersByTimeAsync(299);
    expect(h.calls).not.toContain('run');
    await jest.advanceTimersByTimeAsync(1);
    expect(h.calls.filter((c) => c === 'run')).toHaveLength(1);
  });
});

describe('ChangeConsumer with static membership (KAFKA_GROUP_INSTANCE_ID)', () => {
  it('gives kafkajs the instance id (null without one: dynamic membership)', () => {
    expect(harness(undefined, { groupInstanceId: 'invalidator-7f9c' }).consumerConfig().groupInstanceId).toBe('invalidator-7f9c');
    expect(harness().consumerConfig().groupInstanceId).toBeNull();
  });

  it('fenced by another live replica with the same id (FENCED_INSTANCE_ID, which kafkajs does not retry): stays crashed, says which setting to fix and counts a crash not restarted', async () => {
    const h = harness(undefined, { groupInstanceId: 'invalidator-0' });
    h.consumer.state = 'running';
    // As kafkajs' retrier hands it over: the broker's error is the cause.
    const fenced = new KafkaJSProtocolError({ type: 'FENCED_INSTANCE_ID', code: 82, retriable: false, message: 'The broker rejected this static consumer since another consumer with the same group instance id has registered with a different member id' } as unknown as Error);
    // kafkajs' types leave out the options argument its retrier passes (src/retry/index.js).
    const NonRetriable = KafkaJSNonRetriableError as unknown as new (e: Error, opts: { cause: Error }) => Error;
    h.crash(new NonRetriable(fenced, { cause: fenced }), false);
    expect(h.consumer.state).toBe('crashed');
    const logged = h.lines.filter((l) => l.level === 'error');
    expect(logged).toHaveLength(1);
    expect(logged[0]!.msg).toMatch(/another live replica uses the same KAFKA_GROUP_INSTANCE_ID/);
    expect(logged[0]!.groupInstanceId).toBe('invalidator-0');
    expect((await h.metrics.consumerCrashes.get()).values.find((v) => v.labels.restarted === 'false')?.value).toBe(1);
  });
});
