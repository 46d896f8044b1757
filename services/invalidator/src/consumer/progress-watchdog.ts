import { performance } from 'node:perf_hooks';
import type { Admin } from 'kafkajs';
import type { Logger } from '@settings/shared';
import type { InvalidatorMetrics } from '../metrics';

export interface ProgressWatchdogOptions {
  groupId: string;
  /** No committed progress for this long, with lag and a healthy Redis, means wedged. */
  stallMs: number;
  checkIntervalMs: number;
}

export interface ProgressWatchdogDeps {
  /** Partitions currently assigned to this member (from the last group join). */
  assignment(): Record<string, number[]>;
  redisHealthy(): boolean;
  /**
   * A partition is held back because the dead-letter topic refuses writes: known, reported by
   * readiness and the dead-letter alert, and not cured by a restart (every member that takes
   * the partition meets the same refusal, and each restart rebalances the whole group).
   */
  deadLettersFailing(): boolean;
}

/**
 * Liveness that means something: the consumer is wedged when its own partitions have lag, Redis
 * takes writes, and its committed offsets have not moved for `stallMs`. Nothing inside the
 * process can be trusted to notice that (the bug it guards against was exactly a pause nobody
 * lifted), so lag is read from Kafka — committed offsets against partition ends — with an admin
 * client, which also keeps the lag gauge current while the consumer fetches nothing.
 *
 * Not wedged: lag with Redis down (the designed pause; restarting would not help), no lag, or
 * Kafka unreachable (the check cannot tell; kafkajs reconnects on its own).
 */
export class ProgressWatchdog {
  private timer: NodeJS.Timeout | undefined;
  // A monotonic clock: a wall clock stepped forward restarted a healthy replica, one stepped
  // back kept a wedged one live for the length of the step.
  private lastProgressAt = performance.now();
  private lastCommitted = new Map<string, bigint>();
  private stalled = false;

  constructor(
    private readonly admin: Admin,
    private readonly opts: ProgressWatchdogOptions,
    private readonly deps: ProgressWatchdogDeps,
    private readonly metrics: InvalidatorMetrics,
    private readonly log: Logger,
  ) {}

  get live(): boolean {
    return !this.stalled;
  }

  async start(): Promise<void> {
    await this.admin.connect();
    this.schedule();
  }

  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.admin.disconnect().catch(() => undefined);
  }

  /** One check now (exposed for tests; `now` in ms of a monotonic clock). */
  async check(now = performance.now()): Promise<void> {
    const assignment = this.deps.assignment();
    let lag = 0n;
    let moved = false;
    try {
      for (const [topic, partitions] of Object.entries(assignment)) {
        if (partitions.length === 0) continue;
        const [ends, [committed]] = await Promise.all([this.admin.fetchTopicOffsets(topic), this.admin.fetchOffsets({ groupId: this.opts.groupId, topics: [topic] })]);
        for (const partition of partitions) {
          const end = ends.find((e) => e.partition === partition);
          const c = committed?.partitions.find((p) => p.partition === partition);
          if (!end) continue;
          // No committed offset yet (-1): everything from the low watermark is still to do.
          const done = c && BigInt(c.offset) >= 0n ? BigInt(c.offset) : BigInt(end.low);
          const partLag = BigInt(end.high) - done;
          lag += partLag;
          this.metrics.consumerLag.set({ topic, partition: String(partition) }, Number(partLag));
          const id = `${topic}/${partition}`;
          if (this.lastCommitted.get(id) !== done) moved = true;
          this.lastCommitted.set(id, done);
        }
      }
      await this.forgetUnassignedLag(assignment);
    } catch (err) {
      this.log.debug({ err: (err as Error).message }, 'progress check could not read offsets (Kafka unreachable?)');
      // Cannot tell: not wedged. Left as the last check decided, a replica found stalled stayed
      // not live (and the gauge frozen) through a Kafka outage, and was restarted for it.
      this.lastProgressAt = now;
      this.metrics.secondsWithoutProgress.set(0);
      this.stalled = false;
      return;
    }
    if (moved || lag === 0n || !this.deps.redisHealthy() || this.deps.deadLettersFailing()) this.lastProgressAt = now;
    const stalledFor = now - this.lastProgressAt;
    this.metrics.secondsWithoutProgress.set(stalledFor / 1000);
    const stalled = stalledFor > this.opts.stallMs;
    if (stalled && !this.stalled) {
      this.log.error({ lag: lag.toString(), stalledSeconds: Math.round(stalledFor / 1000), assignment }, 'consumer wedged: lag on its partitions and Redis healthy, but no offset committed; failing liveness so it is restarted');
    }
    this.stalled = stalled;
  }

  /**
   * Drops the lag gauge's series of partitions this member no longer owns: left alone, a
   * partition moved to another member kept the last lag seen here for as long as this process
   * ran, so dashboards summing the gauge showed lag that never drained.
   */
  private async forgetUnassignedLag(assignment: Record<string, number[]>): Promise<void> {
    const { values } = await this.metrics.consumerLag.get();
    for (const { labels } of values) {
      const owned = assignment[String(labels.topic)]?.includes(Number(labels.partition)) ?? false;
      if (!owned) this.metrics.consumerLag.remove({ topic: String(labels.topic), partition: String(labels.partition) });
    }
  }

  private schedule(): void {
    this.timer = setTimeout(() => {
      void this.check().finally(() => {
        if (this.timer) this.schedule();
      });
    }, this.opts.checkIntervalMs);
    this.timer.unref();
  }
}
