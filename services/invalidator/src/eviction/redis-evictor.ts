import type Redis from 'ioredis';
import { generationKey, newGeneration, type CacheScriptCommands, type KeySpace } from '@settings/shared';
import { AdaptiveRate } from '../backpressure/adaptive-rate';
import { backoffMs } from '../backpressure/retry-backoff';
import { TokenBucket } from '../backpressure/token-bucket';
import type { InvalidatorMetrics } from '../metrics';

export interface EvictorOptions {
  maxOpsPerSecond: number;
  maxInflightPipelines: number;
  pipelineSize: number;
  latencyTargetMs: number;
  markerTtlMs: number;
}

/** Hooks the consumer gives the evictor for one batch. */
export interface ApplyHooks {
  /** Keeps the consumer group membership alive during long batches and Redis outages. */
  heartbeat(): Promise<void>;
  /** True when the batch must be abandoned (shutdown or rebalance): stop retrying, commit nothing. */
  shouldAbort(): boolean;
  /** Redis failing: the consumer pauses fetching until the next success. */
  onRedisDown(err: Error): void;
  onRedisUp(): void;
}

export class BatchAbortedError extends Error {
  readonly code = 'BATCH_ABORTED';
  constructor() {
    super('batch abandoned before all evictions were applied');
    this.name = 'BatchAbortedError';
  }
}

type Op = { kind: 'marker'; key: string; floor: bigint } | { kind: 'generation'; space: KeySpace };

interface ScriptPipeline {
  evictToMarker(key: string, floor: string, ttlMs: number): ScriptPipeline;
  set(key: string, value: string): ScriptPipeline;
  exec(): Promise<Array<[Error | null, unknown]> | null>;
}

/**
 * Applies evictions to Redis in pipelines under a rate ceiling (token bucket, adapted to
 * latency) and an in-flight limit. A failed pipeline is retried with backoff and jitter until
 * it succeeds or the batch is abandoned: evictions are idempotent, so re-sending a partly
 * applied pipeline is safe, and the caller commits offsets only after `apply` resolves.
 */
export class RedisEvictor {
  readonly bucket: TokenBucket;
  readonly rate: AdaptiveRate;

  constructor(
    private readonly redis: Redis & CacheScriptCommands,
    private readonly opts: EvictorOptions,
    private readonly metrics: InvalidatorMetrics,
  ) {
    this.bucket = new TokenBucket(opts.maxOpsPerSecond);
    this.rate = new AdaptiveRate(opts.maxOpsPerSecond, opts.latencyTargetMs);
    metrics.rateCeiling.set(opts.maxOpsPerSecond);
  }

  async apply(markers: Array<{ key: string; floor: bigint }>, bumps: KeySpace[], hooks: ApplyHooks): Promise<{ written: number }> {
    const ops: Op[] = [...bumps.map((space) => ({ kind: 'generation' as const, space })), ...markers.map((m) => ({ kind: 'marker' as const, ...m }))];
    const chunks: Op[][] = [];
    for (let i = 0; i < ops.length; i += this.opts.pipelineSize) chunks.push(ops.slice(i, i + this.opts.pipelineSize));
    let next = 0;
    let written = 0;
    const worker = async (): Promise<void> => {
      while (next < chunks.length) {
        const chunk = chunks[next++]!;
        written += await this.applyChunk(chunk, hooks);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.opts.maxInflightPipelines, chunks.length) }, worker));
    return { written };
  }

  private async applyChunk(chunk: Op[], hooks: ApplyHooks): Promise<number> {
    for (let attempt = 0; ; attempt++) {
      if (hooks.shouldAbort()) throw new BatchAbortedError();
      await this.bucket.take(chunk.length);
      const started = performance.now();
      try {
        const written = await this.execPipeline(chunk);
        const ms = performance.now() - started;
        this.metrics.pipelineSeconds.observe(ms / 1000);
        this.metrics.redisOps.inc(chunk.length);
        this.setRate(this.rate.observe(ms));
        if (attempt > 0) hooks.onRedisUp();
        return written;
      } catch (err) {
        this.metrics.redisErrors.inc();
        this.setRate(this.rate.failed());
        hooks.onRedisDown(err as Error);
        const wait = backoffMs(attempt);
        // Sleep in slices so the group membership stays alive and an abort is noticed quickly.
        const until = Date.now() + wait;
        while (Date.now() < until && !hooks.shouldAbort()) {
          await hooks.heartbeat().catch(() => undefined);
          await new Promise((r) => setTimeout(r, Math.min(250, until - Date.now())));
        }
      }
      await hooks.heartbeat().catch(() => undefined);
    }
  }

  private async execPipeline(chunk: Op[]): Promise<number> {
    const p = this.redis.pipeline() as unknown as ScriptPipeline;
    for (const op of chunk) {
      if (op.kind === 'marker') p.evictToMarker(op.key, op.floor.toString(), this.opts.markerTtlMs);
      // A fresh random generation, not INCR: a counter restarts at 0 on an empty Redis and
      // would make entries filled under an old number valid again (generation.ts).
      else p.set(generationKey(op.space), newGeneration());
    }
    const results = await p.exec();
    if (results === null) throw new Error('pipeline discarded');
    let written = 0;
    results.forEach(([err, value], i) => {
      if (err) throw err;
      // A new generation always changes the cache; a marker script returns 1 when it wrote.
      if (chunk[i]!.kind === 'generation' || value === 1) written++;
    });
    return written;
  }

  private setRate(rate: number): void {
    if (this.opts.maxOpsPerSecond <= 0) return;
    this.bucket.setRate(rate);
    this.metrics.rateCurrent.set(rate);
  }
}
