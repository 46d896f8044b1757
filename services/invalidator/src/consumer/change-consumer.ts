import { Partitioners, type Consumer, type ConsumerRunConfig, type EachBatchPayload, type Kafka, type KafkaMessage, type Producer } from 'kafkajs';
import { decodeChangeEvent, isCachedTable, type Logger } from '@settings/shared';
import { EvictionBatcher } from '../eviction/eviction-batcher';
import { planEvictions, UnplannableEventError } from '../eviction/eviction-plan';
import { BatchAbortedError, type ApplyHooks, type RedisEvictor } from '../eviction/redis-evictor';
import { withHeartbeats, type BatchWaitHooks } from '../backpressure/heartbeating-wait';
import { backoffMs } from '../backpressure/retry-backoff';
import type { RedisHealthProbe } from '../backpressure/redis-health-probe';
import type { InvalidatorMetrics } from '../metrics';
import { DeadLetterPublisher, type DeadLetter } from './dead-letter-publisher';
import { HeldDeadLetters } from './held-dead-letters';

export interface ChangeConsumerOptions {
  groupId: string;
  topics: string[];
  dlqTopic: string;
  chunkSize: number;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  /** Static membership (`group.instance.id`); undefined: dynamic. */
  groupInstanceId?: string;
  /** Failed dead-letter publish attempts of a partition, counted across redeliveries, before the replica reports not ready (it keeps retrying). */
  dlqMaxAttempts: number;
  /** Longest one dead-letter send may take before the attempt counts as failed. */
  dlqSendTimeoutMs: number;
  /** Encoded bytes of dead letters per produce request (below the DLQ topic's max.message.bytes). */
  dlqMaxSendBytes: number;
}

/**
 * Dead-letter bytes (keys and values) one partition may hold in memory while the dead-letter
 * topic refuses writes and its consumption goes on. Past this, the partition is paused until
 * the next attempt (a flood of malformed events must not grow the heap without bound).
 */
const HELD_DEAD_LETTER_BYTES = 16 * 1024 * 1024;

/** kafkajs' restart delay after a crash whose error names none (its `initialRetryTime` default). */
const CRASH_RESTART_DELAY_MS = 300;
/**
 * The longest wait before a restart after a crash. kafkajs' connection retrier ends an outage's
 * crash with its current back-off, which grows to 30 s: the restart then came up to 30 s after
 * the broker was back (seen: 14 s), on top of the old member's session (non-guarantee 11). A
 * restart that still finds no broker retries its connection with kafkajs' own back-off before it
 * crashes again, so a shorter wait here does not hammer the broker.
 */
const MAX_CRASH_RESTART_DELAY_MS = 2_000;
/**
 * Kafka's FENCED_INSTANCE_ID: another consumer joined with this one's group.instance.id. kafkajs
 * does not retry it and wraps the broker's error (KafkaJSNonRetriableError, the protocol error
 * as its cause, which names the type).
 */
function isFencedInstance(err: Error): boolean {
  const typed = err as Error & { type?: unknown; cause?: { type?: unknown } };
  return typed.type === 'FENCED_INSTANCE_ID' || typed.cause?.type === 'FENCED_INSTANCE_ID';
}

/** Longest stop() waits for a restart's group join before it disconnects anyway (below runMain's 25 s). */
const RESTART_JOIN_WAIT_MS = 15_000;

export type ConsumerState = 'starting' | 'running' | 'stopping' | 'stopped' | 'crashed';

/**
 * Reads Debezium change topics and turns each chunk of events into evictions.
 *
 * Guarantees: an offset is committed only after every eviction (and dead letter) of the
 * events before it has been applied; a batch that cannot finish (shutdown, rebalance) commits
 * nothing past what was applied, so its events are redelivered — evictions are idempotent.
 */
export class ChangeConsumer {
  private readonly consumer: Consumer;
  private readonly producer: Producer;
  private readonly dlq: DeadLetterPublisher;
  /** Set by a failing eviction, cleared only when Redis is healthy: the one owner of "paused". */
  private pausedSince: number | undefined;
  /**
   * Partitions (`topic/partition`) whose dead letters still fail after `dlqMaxAttempts`, while
   * their batch retries. Per partition: one partition's dead letters getting through says nothing
   * about another's, and a partition that moved to another member no longer blocks this replica.
   */
  private readonly dlqFailing = new Set<string>();
  /**
   * Failed dead-letter publish attempts of each partition whose dead letters are not published
   * yet, counted across redeliveries of its batch (one attempt per delivery); dlqFailing holds
   * those with `dlqMaxAttempts` or more.
   */
  private readonly dlqRetries = new Map<string, number>();
  /** Dead letters not published yet, per partition (`topic/partition`), while it is consumed on. */
  private readonly held = new Map<string, HeldDeadLetters>();
  /** Partitions (`topic/partition`) with a batch in progress: the retry timer leaves those to it. */
  private readonly inBatch = new Set<string>();
  /** Partitions paused because they hold too many unpublished dead letters, with the timer that resumes each. */
  private readonly dlqPaused = new Map<string, { topic: string; partition: number; timer: NodeJS.Timeout }>();
  /** Group joins so far: a batch commits nothing once one happened after it started. */
  private joins = 0;
  /** Rebalances a heartbeat of any batch reported (handleBatch). */
  private rebalancesSeen = 0;
  /** A resume failed in the current pause (logged once per pause, retried on every healthy probe). */
  private resumeFailing = false;
  state: ConsumerState = 'starting';
  joined = false;
  /** What start() ran, for restarts after a crash. */
  private runConfig: ConsumerRunConfig | undefined;
  /** A restart after a crash, waiting its delay (restartAfterCrash). */
  private restartTimer: NodeJS.Timeout | undefined;
  /** A restart after a crash, joining the group: run() returns once it joined or crashed again. */
  private restarting: Promise<void> | undefined;
  /** This member's partitions, from the last group join (topic → partitions). */
  assignment: Record<string, number[]> = {};

  constructor(
    kafka: Kafka,
    private readonly evictor: RedisEvictor,
    redisHealth: RedisHealthProbe,
    private readonly opts: ChangeConsumerOptions,
    private readonly log: Logger,
    private readonly metrics: InvalidatorMetrics,
  ) {
    this.consumer = kafka.consumer({
      groupId: opts.groupId,
      // Long Redis outages are handled inside a batch with heartbeats, not by leaving the group.
      sessionTimeout: opts.sessionTimeoutMs,
      heartbeatInterval: Math.floor(opts.sessionTimeoutMs / 10),
      rebalanceTimeout: opts.rebalanceTimeoutMs,
      groupInstanceId: opts.groupInstanceId ?? null,
      // How long the broker may hold an empty fetch. It answers as soon as a record arrives
      // (minBytes 1), so this does not delay evictions; it only sets how often an idle replica
      // polls: 50 ms cost the idle invalidator 5-8 % of a core and the broker ~2 % more
      // (measured, /proc CPU over 20 s); 500 ms: 3-4 %. Lag bench A/B showed no difference.
      maxWaitTimeInMs: 500,
      // kafkajs fetches again only after the batches of a fetch are handled, so larger fetches
      // mean fewer round trips per event (it buffers a response's network chunks and copies them
      // into one buffer once, when the response is complete: kafkajs 2.2.4). Measured
      // draining 100k events of ~570 bytes (A/B, interleaved): 1 MB per partition 22-28k keys/s,
      // 256 KB 17-23k. Re-measure when the event size changes (bench: eviction-throughput).
      maxBytesPerPartition: 1024 * 1024,
      // After a retriable crash this consumer restarts itself (restartAfterCrash), not kafkajs:
      // kafkajs arms its restart timer only after the crash's own disconnect, where stop() no
      // longer clears it, and a stop() during a restart's group join returns without leaving the
      // group (its runner is not running yet). Either way a stopped replica joined again.
      retry: { retries: 10, restartOnFailure: (err) => Promise.resolve(this.restartAfterCrash(err)) },
    });
    this.producer = kafka.producer({
      allowAutoTopicCreation: false,
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: Partitioners.DefaultPartitioner,
      // One publish attempt is bounded (about 2 s): its batch holds up the fetches of every other
      // partition from that broker while it runs, and publishDeadLetters retries and backs off on
      // its own. An idempotent kafkajs producer otherwise retries without end (it warns once that
      // limited retries weaken exactly-once; dead letters are at-least-once anyway).
      retry: { retries: 3, initialRetryTime: 100, maxRetryTime: 1000 },
    });
    this.dlq = new DeadLetterPublisher(this.producer, opts.dlqTopic, opts.dlqMaxSendBytes, log, metrics, opts.dlqSendTimeoutMs);
    const { GROUP_JOIN, CRASH, STOP } = this.consumer.events;
    this.consumer.on(GROUP_JOIN, (e) => {
      this.joined = true;
      this.assignment = e.payload.memberAssignment;
      // A join mostly comes once every batch has returned, but kafkajs also rejoins from one
      // broker's fetch (stale metadata) while batches from other brokers run. Those batches stop
      // here: the new generation fetches every partition again from its committed offset, and
      // one whose held dead letters are dropped below must not commit past them.
      this.rebalancesSeen++;
      this.joins++;
      // A partition held back by dead letters that moved to another member holds this one back no more.
      // Its new owner fetches it from the committed offset, before every letter held here.
      for (const partition of new Set([...this.dlqRetries.keys(), ...this.held.keys()])) {
        const [topic, number] = [partition.slice(0, partition.lastIndexOf('/')), Number(partition.slice(partition.lastIndexOf('/') + 1))];
        if (!(e.payload.memberAssignment[topic] ?? []).includes(number)) {
          this.dlqFailing.delete(partition);
          this.log.info({ dlq: this.opts.dlqTopic, partition }, 'partition held back by dead letters moved to another member (its batch is redelivered there)');
          this.dlqRetries.delete(partition);
          this.dropHeld(this.held.get(partition));
          const paused = this.dlqPaused.get(partition);
          this.dlqPaused.delete(partition);
          if (paused) {
            clearTimeout(paused.timer);
            // kafkajs keeps a partition's pause across assignments: without this resume, the
            // partition given back to this member later was never fetched again, and nothing
            // said so (not failing, ready). Paused for Redis, the topic-wide resume lifts it.
            if (this.pausedSince === undefined) this.resumePartition(paused.topic, paused.partition, partition);
          }
        }
      }
      if (this.dlqFailing.size === 0) this.metrics.deadLetterFailing.set(0);
      this.reportHeld();
      this.log.info({ memberId: e.payload.memberId, assignment: e.payload.memberAssignment }, 'joined consumer group');
      // kafkajs keeps a pause across rebalances, but after a crash it restarts with a new
      // consumer group whose partitions are all unpaused: pause it again (this runs before its
      // first fetch) and leave resuming to the probe, as for any pause.
      if (this.pausedSince !== undefined) this.applyPause();
    });
    this.consumer.on(CRASH, (e) => {
      const restart = this.restartTimer !== undefined;
      if (isFencedInstance(e.payload.error)) {
        // FENCED_INSTANCE_ID, which kafkajs does not retry: another live consumer joined with
        // this KAFKA_GROUP_INSTANCE_ID and took this member's place. Restarting would fence that
        // one in turn; left crashed, liveness fails and the operator sees why.
        this.log.error({ err: e.payload.error, groupInstanceId: this.opts.groupInstanceId }, 'consumer fenced: another live replica uses the same KAFKA_GROUP_INSTANCE_ID (each replica needs its own, e.g. its pod name)');
      } else this.log.error({ err: e.payload.error, restart }, 'consumer crashed');
      this.metrics.consumerCrashes.inc({ restarted: String(restart) });
      if (!restart && (this.state === 'starting' || this.state === 'running')) this.state = 'crashed';
      this.joined = false;
    });
    this.consumer.on(STOP, () => {
      this.joined = false;
    });
    // Whatever aborted the batch that paused (a rebalance, a reconnect, a Kafka restart) — and
    // kafkajs keeps a pause across rebalances — the probe resumes once Redis takes writes again.
    redisHealth.onProbe((healthy) => {
      if (healthy) this.resumeAfterRedis();
      metrics.pausedSeconds.set(this.pausedSince === undefined ? 0 : (Date.now() - this.pausedSince) / 1000);
    });
  }

  async start(partitionsConsumedConcurrently: number): Promise<void> {
    await this.producer.connect();
    await this.consumer.connect();
    // fromBeginning only matters for a brand-new group: replaying old changes costs idempotent
    // evictions, while skipping them could leave a stale entry behind.
    await this.consumer.subscribe({ topics: this.opts.topics, fromBeginning: true });
    this.runConfig = {
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently,
      eachBatch: (payload) => this.handleBatch(payload),
    };
    await this.consumer.run(this.runConfig);
    // Not over a crash: run() returns after a crash of the first join too, and a non-retriable
    // one (e.g. GROUP_AUTHORIZATION_FAILED) set 'crashed', which 'running' hid: live for good,
    // never ready, and no assignment for the watchdog to find lag in.
    if (this.state === 'starting') this.state = 'running';
  }

  async stop(): Promise<void> {
    if (this.state === 'stopped') return;
    this.state = 'stopping';
    clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    // A restart joining the group: run() returns once the join is over, and only a running
    // consumer leaves the group on disconnect(); stopped mid-join, it stayed a member (given
    // partitions nobody read) until its session timed out. Bounded: a join kafkajs retries
    // through a Kafka outage can take minutes, past the process's forced exit (runMain, 25 s).
    if (this.restarting) await Promise.race([this.restarting, new Promise((r) => setTimeout(r, RESTART_JOIN_WAIT_MS).unref())]);
    for (const held of this.dlqPaused.values()) clearTimeout(held.timer);
    this.dlqPaused.clear();
    // Held dead letters are not published: nothing was committed past them, so the partition's
    // next owner fetches and dead-letters them again.
    for (const held of [...this.held.values()]) this.dropHeld(held);
    // disconnect() waits for the batch in progress, which sees state 'stopping' and abandons
    // the rest of its work without committing it.
    await this.consumer.disconnect().catch((err: unknown) => this.log.warn({ err }, 'consumer disconnect failed'));
    await this.producer.disconnect().catch((err: unknown) => this.log.warn({ err }, 'producer disconnect failed'));
    this.state = 'stopped';
  }

  /**
   * kafkajs' `restartOnFailure`, asked after a retriable crash once the crashed consumer has
   * disconnected: schedules this consumer's own restart (after the error's retry time, kafkajs'
   * delay, at most MAX_CRASH_RESTART_DELAY_MS) unless it is stopping, and tells kafkajs not to
   * restart it.
   */
  private restartAfterCrash(err: Error): false {
    if ((this.state === 'starting' || this.state === 'running') && this.restartTimer === undefined && this.runConfig) {
      const config = this.runConfig;
      const retryTime = (err as { retryTime?: unknown }).retryTime;
      const delayMs = Math.min(MAX_CRASH_RESTART_DELAY_MS, typeof retryTime === 'number' && retryTime > 0 ? retryTime : CRASH_RESTART_DELAY_MS);
      this.restartTimer = setTimeout(() => {
        this.restartTimer = undefined;
        if (this.state !== 'starting' && this.state !== 'running') return;
        this.log.info({ delayMs }, 'restarting the consumer after its crash');
        this.restarting = this.consumer
          .run(config)
          .catch((e: unknown) => {
            // run() rejects only when the crashed consumer could not even disconnect.
            this.log.error({ err: e }, 'consumer restart failed');
            if (this.state === 'starting' || this.state === 'running') this.state = 'crashed';
          })
          .finally(() => (this.restarting = undefined));
      }, delayMs);
    }
    return false;
  }

  get paused(): boolean {
    return this.pausedSince !== undefined;
  }

  /** True while dead letters could not be published after `dlqMaxAttempts` (readiness fails). */
  get deadLetterFailing(): boolean {
    return this.dlqFailing.size > 0;
  }

  private async handleBatch({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> {
    // A heartbeat that reports a rebalance means the group is waiting for this member to rejoin,
    // which kafkajs does only once every batch in progress has returned: every batch of this
    // member abandons (nothing past the applied evictions is committed) rather than finish its
    // work and stall the group past the rebalance timeout. kafkajs sends one heartbeat per
    // interval whichever batch asks, so only one batch sees the error: the count is shared.
    // (isRunning/isStale do not turn on a rebalance: only on stop and on a seek.)
    const rebalancesAtStart = this.rebalancesSeen;
    const shouldAbort = (): boolean => this.state !== 'running' || this.rebalancesSeen !== rebalancesAtStart || !isRunning() || isStale();
    const hooks: ApplyHooks = {
      heartbeat: async () => {
        try {
          await heartbeat();
        } catch (err) {
          if (isRebalanceError(err)) this.rebalancesSeen++;
          throw err;
        }
      },
      shouldAbort,
      onRedisDown: (err) => this.pauseForRedis(err),
      onRedisUp: () => this.resumeAfterRedis(),
    };
    const partitionKey = `${batch.topic}/${batch.partition}`;
    const joinsAtStart = this.joins;
    this.inBatch.add(partitionKey);
    try {
      for (let i = 0; i < batch.messages.length; i += this.opts.chunkSize) {
        const chunk = batch.messages.slice(i, i + this.opts.chunkSize);
        const batcher = new EvictionBatcher();
        const letters: DeadLetter[] = [];
        const commitTimes: number[] = [];
        // Counted per chunk, not per event: a labelled inc per event was a measurable share
        // of draining a bulk change. Table → op → events.
        const consumed = new Map<string, Map<string, number>>();
        const letter = (m: KafkaMessage, reason: string, category: DeadLetter['category']): number =>
          letters.push({ topic: batch.topic, partition: batch.partition, offset: m.offset, key: m.key, value: m.value, reason, category });
        for (const m of chunk) {
          const decoded = decodeChangeEvent(m.value);
          if (decoded.kind === 'tombstone') continue;
          if (decoded.kind === 'invalid') {
            letter(m, decoded.reason, decoded.reason.startsWith('not JSON') ? 'not-json' : 'invalid-envelope');
            continue;
          }
          const { event } = decoded;
          // The label's value comes from the event: only the key map's tables are named, so a
          // crafted or misrouted event cannot add label values without bound.
          const table = isCachedTable(event.source.table) ? event.source.table : 'other';
          let ops = consumed.get(table);
          if (!ops) consumed.set(table, (ops = new Map()));
          ops.set(event.op, (ops.get(event.op) ?? 0) + 1);
          try {
            batcher.add(planEvictions(event));
            commitTimes.push(event.source.ts_ms);
          } catch (err) {
            if (!(err instanceof UnplannableEventError)) throw err;
            letter(m, err.message, 'unmapped');
          }
        }
        for (const [table, ops] of consumed) for (const [op, n] of ops) this.metrics.eventsConsumed.inc({ table, op }, n);
        const markers = batcher.markers();
        const { written } = await this.evictor.apply(markers, batcher.generationBumps(), hooks);
        const applied = markers.length;
        this.metrics.keysPlanned.inc(batcher.plannedKeys);
        this.metrics.keysApplied.inc(applied);
        this.metrics.keysEvicted.inc(written);
        if (batcher.plannedKeys > 0) this.metrics.dedupRatio.set(applied / batcher.plannedKeys);
        const now = Date.now();
        for (const t of commitTimes) this.metrics.endToEndLag.observe(Math.max(0, now - t) / 1000);
        // The chunk's evictions are applied before its dead letters are published: a dead
        // letter holds up the commit, not the evictions behind it (they were applied after it,
        // and the changes behind a malformed event stayed stale for as long as the dead-letter
        // topic refused writes).
        const last = chunk[chunk.length - 1]!.offset;
        const lettersOut = letters.length === 0 && !this.held.has(partitionKey) ? true : await this.deadLettersOut(batch.topic, batch.partition, letters, last, hooks);
        // Fetched on from here either way; committed only with no dead letter held before it,
        // and not after a join that may have dropped this partition's held letters (checked in
        // the commit's own tick). A rebalance only heard in a heartbeat still lets the commit
        // go: the group refuses it if this member was fenced (member-fenced-mid-batch.test.ts).
        resolveOffset(last);
        if (lettersOut) {
          if (this.joins !== joinsAtStart) throw new BatchAbortedError();
          await this.commit(batch.topic, batch.partition, last);
        }
        await hooks.heartbeat();
      }
      this.metrics.consumerLag.set({ topic: batch.topic, partition: String(batch.partition) }, Number(batch.offsetLag()));
    } catch (err) {
      if (err instanceof DeadLetterBackOff) return; // logged where it starts; fetched again on resume
      if (err instanceof BatchAbortedError) {
        this.metrics.batchesAborted.inc();
        this.log.info({ topic: batch.topic, partition: batch.partition }, 'batch abandoned without committing the rest (will be redelivered)');
        return;
      }
      throw err;
    } finally {
      this.inBatch.delete(partitionKey);
    }
  }

  /**
   * Commits `last` + 1 once its chunk's evictions are applied. A commit the group refuses because
   * this member was fenced meanwhile (its session expired, or a rebalance completed without it:
   * UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION, REBALANCE_IN_PROGRESS) abandons the batch like a
   * rebalance heard in a heartbeat: redelivered to whoever owns the partition now, and kafkajs
   * rejoins at its next heartbeat. kafkajs' commit retrier wraps such a refusal in a
   * KafkaJSNonRetriableError without its type: thrown as it came, the runner did not recognise
   * a rebalance, and the consumer crashed for good (restart: false) on a routine fencing.
   */
  private async commit(topic: string, partition: number, last: string): Promise<void> {
    try {
      await this.consumer.commitOffsets([{ topic, partition, offset: (BigInt(last) + 1n).toString() }]);
    } catch (err) {
      if (!causedByRebalance(err)) throw err;
      this.rebalancesSeen++;
      this.log.warn({ err: (err as Error).message, topic, partition }, 'commit refused: this member left the group meanwhile');
      throw new BatchAbortedError();
    }
  }

  /**
   * Holds the chunk's dead letters with those the partition already holds and tries to publish
   * them all (one attempt, once the back-off of the last failed one has passed). True when none
   * is held any more: the commit may cover the chunk. False: the commit waits for them, and the
   * partition is consumed and evicted on behind them — unless it holds more than
   * HELD_DEAD_LETTER_BYTES: then it is paused until the next attempt and the chunk fetched again
   * (DeadLetterBackOff).
   *
   * The commit never passes a dead letter not in the dead-letter topic, and retries are bounded
   * in what they hide: after `dlqMaxAttempts` failed attempts the replica stops being ready and
   * says why, and keeps retrying. Never inside the batch: kafkajs fetches from a broker again only
   * once every batch of its last fetch has returned, so a batch that retried in place held back
   * every other partition this replica reads from that broker (the first DLQ_MAX_ATTEMPTS
   * attempts were retried in place, backing off up to 5 s: about 25 s at the defaults).
   */
  private async deadLettersOut(topic: string, partition: number, letters: DeadLetter[], last: string, hooks: ApplyHooks): Promise<boolean> {
    const key = `${topic}/${partition}`;
    let held = this.held.get(key);
    if (!held) this.held.set(key, (held = new HeldDeadLetters(topic, partition, last)));
    held.add(letters);
    // Every event up to `last` has had its evictions applied (in this batch or before it).
    held.appliedThrough = last;
    this.reportHeld();
    await this.attemptPublish(held, hooks);
    if (this.held.get(key) !== held) return !held.dropped;
    if (held.bytes > HELD_DEAD_LETTER_BYTES) {
      this.log.warn({ partition: key, heldBytes: held.bytes, deadLetters: held.size }, 'too many unpublished dead letters held: partition paused until the next attempt');
      this.dlqBackOff(topic, partition, key, held.nextAttemptAt - Date.now());
      throw new DeadLetterBackOff();
    }
    return false;
  }

  /** One publish attempt of what `held` holds, after any attempt in progress, if its back-off has passed. */
  private async attemptPublish(held: HeldDeadLetters, hooks: BatchWaitHooks): Promise<void> {
    // The retry timer's attempt may take a while (DLQ_SEND_TIMEOUT_MS per send): a batch waiting
    // for it heartbeats, and gives up when it must.
    while (held.attempt) {
      if (hooks.shouldAbort()) return;
      await withHeartbeats(held.attempt, hooks);
    }
    if (held.dropped || held.size === 0 || Date.now() < held.nextAttemptAt || hooks.shouldAbort()) return;
    held.attempt = this.publishHeld(held, hooks).finally(() => (held.attempt = undefined));
    await held.attempt;
  }

  /**
   * Publishes the held letters in several sends, in order, each below DLQ_MAX_SEND_BYTES; never
   * throws. A dead letter may be published twice (a send the broker wrote but whose answer was
   * lost or came after DLQ_SEND_TIMEOUT_MS; one fetched again after a rebalance, by this member
   * or the next owner): at-least-once, like the change events themselves; never zero times
   * before the commit.
   */
  private async publishHeld(held: HeldDeadLetters, hooks: BatchWaitHooks): Promise<void> {
    const sends = this.dlq.plan(held.letters);
    let next = 0;
    try {
      for (; next < sends.length; next++) {
        // Heartbeats while a send waits for a slow broker (up to DLQ_SEND_TIMEOUT_MS).
        await withHeartbeats(this.dlq.send(sends[next]!), hooks);
        held.published(sends[next]!.letters);
      }
    } catch (err) {
      // Dropped meanwhile (moved to another member, or stopping): its state is gone, and a
      // holder made since for the same partition is not this one's to count or to release.
      if (this.replaced(held)) return;
      const failed = (this.dlqRetries.get(held.key) ?? 0) + 1;
      this.dlqRetries.set(held.key, failed);
      const first = sends[next]!.letters[0]!;
      const where = { dlq: this.opts.dlqTopic, topic: first.topic, partition: first.partition, offset: first.offset, heldDeadLetters: held.size };
      if (this.dlqFailing.has(held.key)) {
        this.log.debug({ err, ...where, attempts: failed }, 'dead-letter topic still refuses writes; backing off again');
      } else if (failed >= this.opts.dlqMaxAttempts) {
        this.dlqFailing.add(held.key);
        this.metrics.deadLetterFailing.set(1);
        this.log.error(
          { err, ...where, attempts: failed },
          'dead-letter topic refuses writes: this partition cannot commit past the malformed event; not ready until it can (still retrying; its changes are still evicted, the other partitions go on)',
        );
      } else {
        this.log.warn({ err, ...where, attempts: failed }, 'dead-letter publish failed; this partition commits nothing past it and tries again (its changes are still evicted)');
      }
      held.nextAttemptAt = Date.now() + backoffMs(failed - 1, 250, 5000, () => 1);
      this.scheduleHeldRetry(held, held.nextAttemptAt - Date.now());
      this.reportHeld();
      return;
    }
    if (this.replaced(held)) return;
    this.reportHeld();
    // Letters a batch added while this attempt ran: its own attempt follows at once.
    if (held.size > 0) return;
    this.dropHeld(held, false);
    this.deadLettersPublished(held.key);
  }

  /** `held` was dropped, and perhaps a new holder made for its partition since. */
  private replaced(held: HeldDeadLetters): boolean {
    return held.dropped || this.held.get(held.key) !== held;
  }

  private scheduleHeldRetry(held: HeldDeadLetters, delayMs: number): void {
    clearTimeout(held.retryTimer);
    held.retryTimer = setTimeout(() => void this.retryHeld(held), Math.max(0, delayMs));
    held.retryTimer.unref();
  }

  /**
   * The back-off of a partition's held dead letters has passed: a batch of that partition tries
   * them at its next chunk, but a partition with no new changes has no next batch, so the timer
   * tries them itself and then commits what was evicted.
   */
  private async retryHeld(held: HeldDeadLetters): Promise<void> {
    if (held.dropped || this.held.get(held.key) !== held || this.state !== 'running') return;
    // A batch of this partition is running: it tries them at its next chunk. Look again later.
    if (this.inBatch.has(held.key)) return this.scheduleHeldRetry(held, 250);
    // A timer can fire a little before the wall clock reaches its time: the attempt would be skipped.
    if (Date.now() < held.nextAttemptAt) return this.scheduleHeldRetry(held, held.nextAttemptAt - Date.now() + 1);
    const through = held.appliedThrough;
    await this.attemptPublish(held, { heartbeat: async () => undefined, shouldAbort: () => this.state !== 'running' });
    // Still held (the attempt failed and scheduled the next), moved away, or a batch that ran
    // meanwhile commits it itself (a commit from here could then move the offset back).
    if (held.dropped || this.held.has(held.key) || this.inBatch.has(held.key) || held.appliedThrough !== through || this.state !== 'running') return;
    try {
      await this.commit(held.topic, held.partition, through);
    } catch (err) {
      this.log.warn({ err: (err as Error).message, partition: held.key }, 'held dead letters published, but the commit failed; the next batch (or the next owner) commits past them');
    }
  }

  /** Forgets these held dead letters of a partition (published, moved to another member, or stopping). */
  private dropHeld(held: HeldDeadLetters | undefined, dropped = true): void {
    if (!held) return;
    held.dropped = dropped;
    clearTimeout(held.retryTimer);
    if (this.held.get(held.key) === held) this.held.delete(held.key);
    this.reportHeld();
  }

  private reportHeld(): void {
    let n = 0;
    for (const held of this.held.values()) n += held.size;
    this.metrics.deadLettersHeld.set(n);
  }

  /**
   * The partition's dead letters are published: it no longer holds this replica back. A batch
   * given up for another reason (a rebalance, a seek) leaves it held back: a rebalance mostly
   * gives a member its partitions back, and released there the replica was reported ready until
   * the redelivered dead letters had failed DLQ_MAX_ATTEMPTS more times. The group join that
   * moves the partition to another member is what releases it then (GROUP_JOIN above).
   */
  private deadLettersPublished(partition: string): void {
    this.dlqRetries.delete(partition);
    if (!this.dlqFailing.delete(partition)) return;
    this.log.info({ dlq: this.opts.dlqTopic, partition }, 'dead letters of this partition published');
    if (this.dlqFailing.size === 0) {
      this.metrics.deadLetterFailing.set(0);
      this.log.info({ dlq: this.opts.dlqTopic }, 'dead-letter topic writable again: ready');
    }
  }

  /**
   * Pauses `partition`, which holds too many unpublished dead letters, and resumes it after
   * `delayMs` (the next attempt's time), so its batch is fetched and tried again. kafkajs ends a whole-topic pause
   * when some of its partitions are paused, and a whole-topic resume ends the partitions' own
   * pauses: so while consumption is paused for Redis the partition is only recorded (its topic is
   * paused anyway), and after the Redis resume the partitions still backing off are paused again.
   */
  private dlqBackOff(topic: string, partitionNumber: number, partition: string, delayMs: number): void {
    const previous = this.dlqPaused.get(partition);
    if (previous) clearTimeout(previous.timer);
    const timer = setTimeout(() => this.endDlqBackOff(partition), Math.max(0, delayMs));
    timer.unref();
    this.dlqPaused.set(partition, { topic, partition: partitionNumber, timer });
    if (this.pausedSince === undefined) this.pausePartition(topic, partitionNumber);
  }

  private endDlqBackOff(partition: string): void {
    const entry = this.dlqPaused.get(partition);
    if (!entry) return;
    this.dlqPaused.delete(partition);
    // Paused for Redis: the Redis resume resumes it with its topic.
    if (this.state !== 'running' || this.pausedSince !== undefined) return;
    this.resumePartition(entry.topic, entry.partition, partition);
  }

  private resumePartition(topic: string, partitionNumber: number, partition: string): void {
    try {
      this.consumer.resume([{ topic, partitions: [partitionNumber] }]);
    } catch (err) {
      this.log.warn({ err: (err as Error).message, partition }, 'could not resume the partition held back by dead letters; it is fetched again when the consumer rejoins');
    }
  }

  private pausePartition(topic: string, partitionNumber: number): void {
    try {
      this.consumer.pause([{ topic, partitions: [partitionNumber] }]);
    } catch (err) {
      // No consumer group right now (a restart): the batch is redelivered when it rejoins.
      this.log.warn({ err: (err as Error).message, partition: `${topic}/${partitionNumber}` }, 'could not pause the partition held back by dead letters');
    }
  }

  private pauseForRedis(err: Error): void {
    if (this.pausedSince !== undefined) return;
    this.pausedSince = Date.now();
    this.metrics.paused.set(1);
    this.applyPause();
    this.log.warn({ err: err.message }, 'Redis failing: consumption paused, retrying evictions with backoff; the Redis health probe resumes it');
  }

  /** Throws nothing: without a consumer group (between a kafkajs crash and its restart) the next GROUP_JOIN pauses. */
  private applyPause(): void {
    try {
      this.consumer.pause(this.opts.topics.map((topic) => ({ topic })));
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'could not pause consumption now; it is paused again when the consumer (re)joins its group');
    }
  }

  /**
   * Paused stays set until kafkajs took the resume: between a crash and its restart kafkajs has
   * no consumer group and throws ("Consumer group was not initialized"); the next healthy probe
   * tries again, and the restarted group is paused on its join until then.
   */
  private resumeAfterRedis(): void {
    if (this.pausedSince === undefined) return;
    try {
      this.consumer.resume(this.opts.topics.map((topic) => ({ topic })));
    } catch (err) {
      if (!this.resumeFailing) this.log.warn({ err: (err as Error).message }, 'Redis healthy but consumption could not be resumed yet (Kafka consumer restarting?); retrying on every healthy probe');
      this.resumeFailing = true;
      return;
    }
    const pausedMs = Date.now() - this.pausedSince;
    this.pausedSince = undefined;
    this.resumeFailing = false;
    // The topic resume also ended the pauses of partitions still backing off for dead letters.
    for (const held of this.dlqPaused.values()) this.pausePartition(held.topic, held.partition);
    this.metrics.paused.set(0);
    this.log.info({ pausedMs }, 'Redis healthy: consumption resumed');
  }
}

/** A batch given up because its partition holds too many unpublished dead letters (paused: dlqBackOff). */
class DeadLetterBackOff extends BatchAbortedError {}

function isRebalanceError(err: unknown): boolean {
  const type = (err as { type?: string } | null)?.type;
  return type === 'REBALANCE_IN_PROGRESS' || type === 'UNKNOWN_MEMBER_ID' || type === 'ILLEGAL_GENERATION';
}

/** The error, or one of its causes (kafkajs' retrier wraps what it gives up on), is a rebalance's. */
function causedByRebalance(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e !== null && typeof e === 'object' && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    if (isRebalanceError(e)) return true;
  }
  return false;
}
