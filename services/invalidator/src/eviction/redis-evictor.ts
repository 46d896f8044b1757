import { performance } from 'node:perf_hooks';
import type { Cluster, Redis } from 'ioredis';
import {
  evictToMarkerBatchArgs,
  evictToMarkerNodeBatchArgs,
  generationKey,
  isRedisCluster,
  keySlot,
  newGeneration,
  withCacheScripts,
  withEvictToMarkerBatch,
  type CacheRedisClient,
  type CacheScriptCommands,
  type EvictToMarkerBatchCommand,
  type KeySpace,
  type MarkerEviction,
} from '@settings/shared';
import { AdaptiveRate } from '../backpressure/adaptive-rate';
import { InflightLimit } from '../backpressure/inflight-limit';
import { RedisCpuSampler } from '../backpressure/redis-cpu';
import { heartbeatingWait } from '../backpressure/heartbeating-wait';
import { backoffMs } from '../backpressure/retry-backoff';
import { TokenBucket } from '../backpressure/token-bucket';
import type { InvalidatorMetrics } from '../metrics';

export interface EvictorOptions {
  /** Hard maximum of keys evicted per second (0 = none); the adaptive ceiling stays below it. */
  maxKeysPerSecond: number;
  /** Round trips in flight at once, for the whole replica (all partitions together). */
  maxInflightPipelines: number;
  /** Keys per round trip (one pipeline of script calls). */
  pipelineKeys: number;
  /** Keys per evict-to-marker-batch call. */
  scriptBatchKeys: number;
  /** p99 of round trips above which the ceiling backs off (while Redis is busy). */
  latencyTargetMs: number;
  /** Redis main-thread CPU fraction at or above which Redis counts as busy (0: always busy, i.e. latency alone decides). */
  redisBusyCpuFraction: number;
  markerTtlMs: number;
  /** Redis refused `INFO cpu` (an ACL without it): the ceiling then follows latency alone. */
  onCpuSampleRefused?: (err: Error) => void;
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

/** The batch script on a pipeline: queued, its result comes with `exec()`. */
interface QueuedBatchCommand {
  evictToMarkerBatch(...args: Parameters<EvictToMarkerBatchCommand['evictToMarkerBatch']>): unknown;
}

/** One round trip: generation bumps (a TRUNCATE) and markers, sent as one pipeline. */
interface RoundTrip {
  bumps: KeySpace[];
  markers: MarkerEviction[];
}

/**
 * Applies evictions to Redis: markers go in evict-to-marker-batch calls of `scriptBatchKeys`
 * keys, several calls per pipelined round trip, at most `maxInflightPipelines` round trips in
 * flight for the replica, under a ceiling counted in **keys** per second (the token bucket
 * takes one token per key and per generation bump) that adapts to the round trips' p99
 * (AdaptiveRate) below the hard maximum.
 *
 * A failed round trip is retried with backoff and jitter until it succeeds or the batch is
 * abandoned: evictions are idempotent, so re-sending a partly applied one is safe, and the
 * caller commits offsets only after `apply` resolves.
 *
 * Redis Cluster: a script's declared keys must share one slot, so there a round trip's markers
 * are grouped by the master the client's slot map says serves them, and each group goes as
 * evict-to-marker-node-batch calls (keys of many slots of one master, Redis >= 7.0), all sent at
 * once. A call that meets a key its master does not serve (a stale map, a slot in migration)
 * fails; a round trip succeeds when every call did and is re-sent whole otherwise (the map is
 * re-read every second), as on one Redis.
 */
export class RedisEvictor {
  readonly bucket: TokenBucket;
  readonly rate: AdaptiveRate;
  private readonly inflight: InflightLimit;
  /** Sampled only while there is a ceiling to adapt (start/stop). */
  readonly cpu: RedisCpuSampler;
  private readonly redis: CacheRedisClient & CacheScriptCommands & EvictToMarkerBatchCommand;

  constructor(
    redis: CacheRedisClient,
    private readonly opts: EvictorOptions,
    private readonly metrics: InvalidatorMetrics,
  ) {
    this.redis = withEvictToMarkerBatch(withCacheScripts(redis));
    this.bucket = new TokenBucket(opts.maxKeysPerSecond);
    this.cpu = new RedisCpuSampler(redis, 250, opts.onCpuSampleRefused);
    this.rate = new AdaptiveRate(opts.maxKeysPerSecond, opts.latencyTargetMs, { redisBusy: () => this.cpu.fraction >= opts.redisBusyCpuFraction });
    this.inflight = new InflightLimit(opts.maxInflightPipelines);
    metrics.rateMax.set(opts.maxKeysPerSecond);
    metrics.rateCurrent.set(opts.maxKeysPerSecond);
  }

  /** Starts sampling Redis's CPU for the adaptive ceiling (nothing to adapt without a maximum). */
  start(): void {
    if (this.opts.maxKeysPerSecond > 0) this.cpu.start();
  }

  stop(): void {
    this.cpu.stop();
  }

  async apply(markers: MarkerEviction[], bumps: KeySpace[], hooks: ApplyHooks): Promise<{ written: number }> {
    const trips = this.roundTrips(markers, bumps);
    const counts = await Promise.all(trips.map((trip) => this.inflight.run(() => this.applyRoundTrip(trip, hooks))));
    return { written: counts.reduce((a, b) => a + b, 0) };
  }

  private roundTrips(markers: MarkerEviction[], bumps: KeySpace[]): RoundTrip[] {
    // No round trip bigger than the bucket's burst (50 ms of the current ceiling): a 1,000-key
    // round trip under a 4,000 keys/s ceiling would be a quarter second of budget at once, and
    // Redis would see the ceiling as bursts rather than a steady rate.
    const size = Math.max(1, Math.min(this.opts.pipelineKeys, Math.floor(this.bucket.burstTokens)));
    const trips: RoundTrip[] = [];
    for (let i = 0; i < markers.length; i += size) trips.push({ bumps: [], markers: markers.slice(i, i + size) });
    if (bumps.length > 0) {
      if (trips.length === 0) trips.push({ bumps, markers: [] });
      else trips[0]!.bumps = bumps;
    }
    return trips;
  }

  private async applyRoundTrip(trip: RoundTrip, hooks: ApplyHooks): Promise<number> {
    let written = 0;
    let bumps = trip.bumps;
    let markers = trip.markers;
    for (let failures = 0; bumps.length + markers.length > 0; ) {
      if (hooks.shouldAbort()) throw new BatchAbortedError();
      // Sized again before every send, not once when the batch was planned: a ceiling cut since
      // (a slow or failed round trip) must not be sent planned-size trips, each many times the
      // new burst at a Redis just judged to be struggling (and a retry is re-split likewise).
      const part: RoundTrip = { bumps, markers: markers.slice(0, Math.max(0, Math.floor(this.bucket.burstTokens) - bumps.length)) };
      await this.bucket.take(part.markers.length + part.bumps.length);
      const started = performance.now();
      try {
        const sent = await this.execRoundTrip(part);
        const ms = performance.now() - started;
        this.metrics.pipelineSeconds.observe(ms / 1000);
        this.metrics.redisOps.inc(sent.commands);
        this.setRate(this.rate.observe(ms));
        if (failures > 0) hooks.onRedisUp();
        failures = 0;
        written += sent.written;
        bumps = [];
        markers = markers.slice(part.markers.length);
        // After every round trip, not only every chunk: a chunk under a low ceiling is many
        // seconds of round trips, and a rebalance must be noticed within one (kafkajs sends at
        // most one heartbeat per interval, so this costs nothing in between).
        await hooks.heartbeat().catch(() => undefined);
      } catch (err) {
        this.metrics.redisErrors.inc();
        this.setRate(this.rate.failed());
        hooks.onRedisDown(err as Error);
        const wait = backoffMs(failures);
        failures += 1;
        // The group membership stays alive and an abort is noticed quickly.
        await heartbeatingWait(wait, hooks);
      }
    }
    return written;
  }

  private async execRoundTrip(trip: RoundTrip): Promise<{ written: number; commands: number }> {
    if (isRedisCluster(this.redis)) return this.execRoundTripOnCluster(this.redis, trip);
    const p = this.redis.pipeline();
    // A fresh random generation, not INCR: a counter restarts at 0 on an empty Redis and would
    // make entries filled under an old number valid again (generation.ts).
    for (const space of trip.bumps) p.set(generationKey(space), newGeneration());
    for (let i = 0; i < trip.markers.length; i += this.opts.scriptBatchKeys) {
      (p as unknown as QueuedBatchCommand).evictToMarkerBatch(...evictToMarkerBatchArgs(trip.markers.slice(i, i + this.opts.scriptBatchKeys), this.opts.markerTtlMs));
    }
    const results = await p.exec();
    if (results === null) throw new Error('pipeline discarded');
    let written = trip.bumps.length; // a new generation always changes the cache
    results.forEach(([err, value], i) => {
      if (err) throw err;
      if (i >= trip.bumps.length) written += Number(value);
    });
    return { written, commands: results.length };
  }

  private async execRoundTripOnCluster(cluster: Cluster, trip: RoundTrip): Promise<{ written: number; commands: number }> {
    const calls: Array<Promise<unknown>> = trip.bumps.map((space) => this.redis.set(generationKey(space), newGeneration()));
    const masters = new Map<string, Redis>(cluster.nodes('master').map((node) => [`${node.options.host}:${node.options.port}`, node]));
    for (const { owner, markers } of groupByMaster(cluster, trip.markers)) {
      const node = masters.get(owner);
      for (let i = 0; i < markers.length; i += this.opts.scriptBatchKeys) {
        const chunk = markers.slice(i, i + this.opts.scriptBatchKeys);
        if (!node) {
          // A slot the client's map does not place on a master it is connected to: one call per
          // key, which the client routes (and follows) itself.
          calls.push(this.evictKeyByKey(chunk));
          continue;
        }
        calls.push(
          // On the master's own connection, not through the cluster client: a redirect then fails
          // the call instead of being followed. Followed, an ASK for the routing key (missing on
          // a master whose slot is migrating) ran the whole call on the importing master under
          // ASKING, where every key of that slot counts as local: the markers were written there,
          // beside entries still served by the old master, and the call succeeded.
          evictToMarkerNodeBatchOn(node, chunk, this.opts.markerTtlMs).catch((err: unknown) => {
            if (!slotInMotion(err)) throw err;
            // A slot of the chunk is being migrated, or the map is stale: the master refuses a
            // key it does not hold, and re-sending the same call fails the same way for as long
            // as the migration lasts. One call per key, each naming its key, which the client
            // follows to wherever the key is (ASK, MOVED). Idempotent like the batch.
            return this.evictKeyByKey(chunk);
          }),
        );
      }
    }
    const results = await Promise.all(calls);
    const written = trip.bumps.length + results.slice(trip.bumps.length).reduce<number>((sum, n) => sum + Number(n), 0);
    return { written, commands: results.length };
  }

  private async evictKeyByKey(markers: readonly MarkerEviction[]): Promise<number> {
    const written = await Promise.all(markers.map((m) => this.redis.evictToMarker(m.key, m.floor.toString(), this.opts.markerTtlMs)));
    this.metrics.slotMotionFallbacks.inc(markers.length);
    return written.reduce((sum, n) => sum + Number(n), 0);
  }

  private setRate(rate: number): void {
    if (this.opts.maxKeysPerSecond <= 0) return;
    this.bucket.setRate(rate);
    this.metrics.rateCurrent.set(rate);
  }
}

/**
 * Markers by the master serving their slot in the client's slot map (`slots[slot][0]`, host:port),
 * each group in its original order; a slot the map does not know yet is a group of its own
 * (`slot <n>`, no master's address: sent key by key).
 */
export function groupByMaster(cluster: Pick<Cluster, 'slots'>, markers: readonly MarkerEviction[]): Array<{ owner: string; markers: MarkerEviction[] }> {
  const groups = new Map<string, MarkerEviction[]>();
  for (const marker of markers) {
    const slot = keySlot(marker.key);
    const owner = cluster.slots[slot]?.[0] ?? `slot ${slot}`;
    const group = groups.get(owner);
    if (group) group.push(marker);
    else groups.set(owner, [marker]);
  }
  return [...groups].map(([owner, group]) => ({ owner, markers: group }));
}

/** Masters the node-batch script has been defined on (a cluster's node clients are plain ones). */
const withNodeBatch = new WeakSet<Redis>();

/** One evict-to-marker-node-batch call on `node` itself: no redirect is followed. */
function evictToMarkerNodeBatchOn(node: Redis, markers: readonly MarkerEviction[], markerTtlMs: number): Promise<unknown> {
  if (!withNodeBatch.has(node)) {
    withEvictToMarkerBatch(node);
    withNodeBatch.add(node);
  }
  return (node as Redis & EvictToMarkerBatchCommand).evictToMarkerNodeBatch(...evictToMarkerNodeBatchArgs(markers, markerTtlMs));
}

/**
 * What a batch call sent to a master meets when a key of it is not that master's: the master
 * refuses a key it does not hold that the script accesses ("Script attempted to access a non
 * local key"), or answers a redirect for the routing key itself (ASK while its slot migrates,
 * MOVED for a stale map, TRYAGAIN). Through the cluster client (key by key), "Too many Cluster
 * redirections" when they never end (a redirect loop during a reshard).
 */
function slotInMotion(err: unknown): boolean {
  const message = err instanceof Error ? err.message : '';
  return /non local key|Too many Cluster redirections|^(ASK|MOVED|TRYAGAIN) /.test(message);
}
