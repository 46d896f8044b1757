import { Partitioners, type Consumer, type EachBatchPayload, type Kafka, type Producer } from 'kafkajs';
import { decodeChangeEvent, type Logger } from '@settings/shared';
import { EvictionBatcher } from '../eviction/eviction-batcher';
import { planEvictions, UnplannableEventError } from '../eviction/eviction-plan';
import { BatchAbortedError, type ApplyHooks, type RedisEvictor } from '../eviction/redis-evictor';
import { backoffMs } from '../backpressure/retry-backoff';
import type { InvalidatorMetrics } from '../metrics';
import { DeadLetterPublisher, type DeadLetter } from './dead-letter-publisher';

export interface ChangeConsumerOptions {
  groupId: string;
  topics: string[];
  dlqTopic: string;
  chunkSize: number;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
}

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
  private pausedByRedis = false;
  state: ConsumerState = 'starting';
  joined = false;

  constructor(
    kafka: Kafka,
    private readonly evictor: RedisEvictor,
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
      maxWaitTimeInMs: 50,
      retry: { retries: 10 },
    });
    this.producer = kafka.producer({ allowAutoTopicCreation: false, idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
    this.dlq = new DeadLetterPublisher(this.producer, opts.dlqTopic, log, metrics);
    const { GROUP_JOIN, CRASH, STOP } = this.consumer.events;
    this.consumer.on(GROUP_JOIN, (e) => {
      this.joined = true;
      this.log.info({ memberId: e.payload.memberId, assignment: e.payload.memberAssignment }, 'joined consumer group');
    });
    this.consumer.on(CRASH, (e) => {
      this.log.error({ err: e.payload.error, restart: e.payload.restart }, 'consumer crashed');
      if (!e.payload.restart) this.state = 'crashed';
      this.joined = false;
    });
    this.consumer.on(STOP, () => {
      this.joined = false;
    });
  }

  async start(partitionsConsumedConcurrently: number): Promise<void> {
    await this.producer.connect();
    await this.consumer.connect();
    // fromBeginning only matters for a brand-new group: replaying old changes costs idempotent
    // evictions, while skipping them could leave a stale entry behind.
    await this.consumer.subscribe({ topics: this.opts.topics, fromBeginning: true });
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently,
      eachBatch: (payload) => this.handleBatch(payload),
    });
    this.state = 'running';
  }

  async stop(): Promise<void> {
    if (this.state === 'stopped') return;
    this.state = 'stopping';
    // disconnect() waits for the batch in progress, which sees state 'stopping' and abandons
    // the rest of its work without committing it.
    await this.consumer.disconnect().catch((err: unknown) => this.log.warn({ err }, 'consumer disconnect failed'));
    await this.producer.disconnect().catch((err: unknown) => this.log.warn({ err }, 'producer disconnect failed'));
    this.state = 'stopped';
  }

  get paused(): boolean {
    return this.pausedByRedis;
  }

  private async handleBatch({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> {
    let rebalancing = false;
    const shouldAbort = (): boolean => this.state !== 'running' || rebalancing || !isRunning() || isStale();
    const hooks: ApplyHooks = {
      // A heartbeat that reports a rebalance means the group is waiting for this member to
      // rejoin: abandon the batch (nothing past the applied evictions is committed) rather than
      // keep retrying and stall every other member for the rebalance timeout.
      heartbeat: async () => {
        try {
          await heartbeat();
        } catch (err) {
          if (isRebalanceError(err)) rebalancing = true;
          throw err;
        }
      },
      shouldAbort,
      onRedisDown: (err) => this.pauseForRedis(err),
      onRedisUp: () => this.resumeAfterRedis(),
    };
    try {
      for (let i = 0; i < batch.messages.length; i += this.opts.chunkSize) {
        const chunk = batch.messages.slice(i, i + this.opts.chunkSize);
        const batcher = new EvictionBatcher();
        const letters: DeadLetter[] = [];
        const commitTimes: number[] = [];
        for (const m of chunk) {
          const decoded = decodeChangeEvent(m.value);
          if (decoded.kind === 'tombstone') continue;
          const base = { topic: batch.topic, partition: batch.partition, offset: m.offset, key: m.key, value: m.value };
          if (decoded.kind === 'invalid') {
            letters.push({ ...base, reason: decoded.reason, category: decoded.reason.startsWith('not JSON') ? 'not-json' : 'invalid-envelope' });
            continue;
          }
          const { event } = decoded;
          this.metrics.eventsConsumed.inc({ table: event.source.table, op: event.op });
          try {
            batcher.add(planEvictions(event));
            commitTimes.push(event.source.ts_ms);
          } catch (err) {
            if (!(err instanceof UnplannableEventError)) throw err;
            letters.push({ ...base, reason: err.message, category: 'unmapped' });
          }
        }
        await this.retryUntilDone('dead-letter publish', () => this.dlq.publish(letters), hooks);
        const { written } = await this.evictor.apply(batcher.markers(), batcher.generationBumps(), hooks);
        const applied = batcher.markers().length;
        this.metrics.keysPlanned.inc(batcher.plannedKeys);
        this.metrics.keysApplied.inc(applied);
        this.metrics.keysEvicted.inc(written);
        if (batcher.plannedKeys > 0) this.metrics.dedupRatio.set(applied / batcher.plannedKeys);
        const now = Date.now();
        for (const t of commitTimes) this.metrics.endToEndLag.observe(Math.max(0, now - t) / 1000);
        const last = chunk[chunk.length - 1]!.offset;
        resolveOffset(last);
        await this.consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: (BigInt(last) + 1n).toString() }]);
        await hooks.heartbeat();
      }
      this.metrics.consumerLag.set({ topic: batch.topic, partition: String(batch.partition) }, Number(batch.offsetLag()));
    } catch (err) {
      if (err instanceof BatchAbortedError) {
        this.metrics.batchesAborted.inc();
        this.log.info({ topic: batch.topic, partition: batch.partition }, 'batch abandoned without committing the rest (will be redelivered)');
        return;
      }
      throw err;
    }
  }

  private async retryUntilDone(what: string, step: () => Promise<void>, hooks: ApplyHooks): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      if (hooks.shouldAbort()) throw new BatchAbortedError();
      try {
        await step();
        return;
      } catch (err) {
        this.log.warn({ err, attempt }, `${what} failed; retrying`);
        await new Promise((r) => setTimeout(r, backoffMs(attempt)));
        await hooks.heartbeat().catch(() => undefined);
      }
    }
  }

  private pauseForRedis(err: Error): void {
    if (this.pausedByRedis) return;
    this.pausedByRedis = true;
    this.metrics.paused.set(1);
    this.consumer.pause(this.opts.topics.map((topic) => ({ topic })));
    this.log.warn({ err: err.message }, 'Redis failing: consumption paused, retrying evictions with backoff');
  }

  private resumeAfterRedis(): void {
    if (!this.pausedByRedis) return;
    this.pausedByRedis = false;
    this.metrics.paused.set(0);
    this.consumer.resume(this.opts.topics.map((topic) => ({ topic })));
    this.log.info('Redis back: consumption resumed');
  }
}

function isRebalanceError(err: unknown): boolean {
  const type = (err as { type?: string } | null)?.type;
  return type === 'REBALANCE_IN_PROGRESS' || type === 'UNKNOWN_MEMBER_ID' || type === 'ILLEGAL_GENERATION';
}
