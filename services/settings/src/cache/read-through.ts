import type Redis from 'ioredis';
import {
  establishGeneration,
  generationKey,
  jitteredTtlMs,
  maxFillAgeMs,
  parseCacheValue,
  type CacheKey,
  type CacheScriptCommands,
  type CacheTiming,
  type CacheValue,
  type KeySpace,
  type Logger,
} from '@settings/shared';
import type { ConsistencyToken } from '../consistency/token';
import type { ReadMode } from '../consistency/read-mode';
import { SettingsError } from '../errors';
import type { SettingsMetrics } from '../metrics';
import type { AuditSampler } from './audit-sampler';
import type { CircuitBreaker } from './circuit-breaker';
import type { ConcurrencyLimiter } from './concurrency-limiter';
import { SingleFlight } from './single-flight';

export interface Loaded<T> {
  readonly version: bigint;
  readonly value: T;
  /** False for values that must not be cached (no version yet, too large). */
  readonly cacheable?: boolean;
}

/** How one kind of resource is keyed, encoded and loaded from PostgreSQL. */
export interface ReadSource<K, T> {
  readonly space: KeySpace;
  cacheKey(key: K): CacheKey;
  encode(value: T): Uint8Array;
  decode(payload: Buffer): T;
  /** Keys missing from the result do not exist. `deadline` is epoch ms. */
  load(keys: readonly K[], deadline: number): Promise<Map<string, Loaded<T>>>;
  /** The token version an entry must reach for at_least_as_fresh (default: token.version). */
  tokenVersion?(token: ConsistencyToken): bigint;
}

export interface ReadRequest {
  readonly mode: ReadMode;
  /** When the gRPC call arrived (epoch ms); fresh reads only join loads started after it. */
  readonly startedAt: number;
  readonly deadline: number;
}

export interface ReadThroughHooks {
  /** Test seam: runs between the database read and the fill of each key. */
  beforeFill?(key: string, version: bigint): Promise<void> | void;
}

export interface ReadThroughDeps {
  redis: Redis & CacheScriptCommands;
  breaker: CircuitBreaker;
  fallbackLimiter: ConcurrencyLimiter;
  metrics: SettingsMetrics;
  timing: CacheTiming;
  log: Logger;
  hooks?: ReadThroughHooks;
  /** False while the Redis server's incarnation is unverified: the cache is treated as down. */
  cacheTrusted?: () => boolean;
  now?: () => number;
  /** Receives every served hit; samples some for the staleness auditor (audit-sampler.ts). */
  auditSampler?: Pick<AuditSampler, 'offer'>;
}

type Lookup = { generation: bigint; values: Array<CacheValue | undefined> } | undefined;
type Outcome = Loaded<unknown> | undefined;

/**
 * Cache-aside reads under the shared cache contract: entries are only ever written by the
 * versioned-fill script, with the version of the row read and the key space generation read
 * before the query, so a fill racing an eviction loses. Nothing here deletes or overwrites.
 */
export class ReadThrough {
  private readonly flights: SingleFlight<Outcome>;
  private readonly now: () => number;

  constructor(private readonly deps: ReadThroughDeps) {
    this.now = deps.now ?? Date.now;
    this.flights = new SingleFlight<Outcome>(this.now);
  }

  async get<K, T>(src: ReadSource<K, T>, key: K, req: ReadRequest): Promise<Loaded<T> | undefined> {
    return (await this.getMany(src, [key], req))[0];
  }

  /** Results in the order of `keys`; undefined where the resource does not exist. */
  async getMany<K, T>(src: ReadSource<K, T>, keys: readonly K[], req: ReadRequest): Promise<Array<Loaded<T> | undefined>> {
    const cacheKeys = keys.map((k) => src.cacheKey(k).key);
    const results: Array<Loaded<T> | undefined> = new Array(keys.length);
    const pending = new Map<string, K>();

    const bypass = req.mode.kind === 'fully_consistent';
    const lookup = bypass ? undefined : await this.lookup(src.space, cacheKeys);
    if (!bypass && !lookup) this.deps.metrics.fallback.inc();

    cacheKeys.forEach((ck, i) => {
      const hit = lookup ? this.classify(src, lookup.generation, lookup.values[i], req.mode) : undefined;
      if (hit) {
        results[i] = hit;
        this.deps.auditSampler?.offer(src.space, ck, hit.version);
      } else pending.set(ck, keys[i]!);
    });
    if (pending.size === 0) return results;

    const loaded = await this.loadCoalesced(src, pending, req, {
      generation: lookup?.generation,
      fallback: !bypass && !lookup,
    });
    cacheKeys.forEach((ck, i) => {
      if (results[i] === undefined) results[i] = loaded.get(ck);
    });
    return results;
  }

  private async lookup(space: KeySpace, keys: readonly string[]): Promise<Lookup> {
    const { redis, breaker, log } = this.deps;
    // Until this connection's server is known to be the one the generations were made on
    // (redis-incarnation.ts), its entries may predate lost evictions: read PostgreSQL.
    if (this.deps.cacheTrusted && !this.deps.cacheTrusted()) return undefined;
    if (!breaker.allowRequest()) return undefined;
    let generation: bigint;
    let bufs: Array<Buffer | null>;
    try {
      const [gen, ...rest] = await Promise.all([redis.get(generationKey(space)), ...keys.map((k) => redis.getBuffer(k))]);
      // No generation (Redis restarted empty): create one before the database read, so fills
      // from before the restart can never match it. A generation that is not a number means
      // something else writes our keys: BigInt throws and the cache is not trusted.
      generation = BigInt(await establishGeneration(redis, space, gen));
      bufs = rest;
      breaker.recordSuccess();
    } catch (err) {
      breaker.recordFailure();
      log.debug({ err, space }, 'cache lookup failed; reading PostgreSQL');
      return undefined;
    }
    const values = bufs.map((b, i) => {
      try {
        return parseCacheValue(b);
      } catch (err) {
        // An unreadable value is a miss; the next fill replaces it (the script only guards e/m values).
        log.warn({ err, key: keys[i] }, 'unparseable cache value');
        return undefined;
      }
    });
    return { generation, values };
  }

  private classify<K, T>(src: ReadSource<K, T>, generation: bigint, value: CacheValue | undefined, mode: ReadMode): Loaded<T> | undefined {
    let outcome: 'hit' | 'miss' | 'stale_token' | 'marker';
    if (value === undefined) outcome = 'miss';
    else if (value.kind === 'marker') outcome = 'marker';
    // An entry of another generation was orphaned by a TRUNCATE.
    else if (value.generation !== generation) outcome = 'miss';
    else if (mode.kind === 'at_least_as_fresh' && value.version < (src.tokenVersion ? src.tokenVersion(mode.token) : mode.token.version)) outcome = 'stale_token';
    else outcome = 'hit';

    let hit: Loaded<T> | undefined;
    if (outcome === 'hit' && value?.kind === 'entry') {
      try {
        hit = { version: value.version, value: src.decode(value.payload) };
      } catch (err) {
        this.deps.log.warn({ err, space: src.space }, 'undecodable cache payload; reading PostgreSQL');
        outcome = 'miss';
      }
    }
    this.deps.metrics.cacheRequests.inc({ space: src.space, result: outcome });
    return hit;
  }

  private async loadCoalesced<K, T>(
    src: ReadSource<K, T>,
    pending: Map<string, K>,
    req: ReadRequest,
    opts: { generation: bigint | undefined; fallback: boolean },
  ): Promise<Map<string, Loaded<T> | undefined>> {
    const notBefore = req.mode.kind === 'minimize_latency' ? Number.NEGATIVE_INFINITY : req.startedAt;
    const waits: Array<[string, Promise<Outcome>]> = [];
    const mine: string[] = [];
    for (const ck of pending.keys()) {
      const joined = this.flights.join(ck, notBefore);
      if (joined) {
        this.deps.metrics.coalesced.inc();
        waits.push([ck, joined]);
      } else {
        mine.push(ck);
      }
    }
    if (mine.length > 0) {
      const flight = this.flights.claim(mine);
      mine.forEach((ck, i) => waits.push([ck, flight.promises[i]!]));
      void this.runFlight(src, mine.map((ck) => [ck, pending.get(ck)!] as const), flight, req.deadline, opts);
    }
    const out = new Map<string, Loaded<T> | undefined>();
    for (const [ck, p] of waits) out.set(ck, (await p) as Loaded<T> | undefined);
    return out;
  }

  private async runFlight<K, T>(
    src: ReadSource<K, T>,
    keys: ReadonlyArray<readonly [string, K]>,
    flight: ReturnType<SingleFlight<Outcome>['claim']>,
    deadline: number,
    opts: { generation: bigint | undefined; fallback: boolean },
  ): Promise<void> {
    const { fallbackLimiter, metrics } = this.deps;
    let release: (() => void) | undefined;
    try {
      if (opts.fallback) {
        release = fallbackLimiter.tryAcquire();
        if (!release) {
          metrics.loadShed.inc();
          throw new SettingsError(
            'LOAD_SHED',
            `cache unavailable and the database fallback is at its limit of ${fallbackLimiter.max} concurrent reads; retry with backoff`,
          );
        }
      }
      const readStartedAt = this.now();
      const loaded = await src.load(
        keys.map(([, k]) => k),
        deadline,
      );
      release?.();
      for (const claim of flight.claims) claim.resolve(loaded.get(claim.key));
      if (opts.generation !== undefined) await this.fill(src, loaded, opts.generation, readStartedAt);
    } catch (err) {
      for (const claim of flight.claims) claim.reject(err);
    } finally {
      release?.();
      flight.release();
    }
  }

  private async fill<K, T>(src: ReadSource<K, T>, loaded: Map<string, Loaded<T>>, generation: bigint, readStartedAt: number): Promise<void> {
    const { redis, breaker, metrics, timing, hooks, log } = this.deps;
    const count = (result: 'written' | 'fenced' | 'skipped_old'): void => metrics.cacheFills.inc({ space: src.space, result });
    await Promise.all(
      [...loaded].map(async ([key, entry]) => {
        if (entry.cacheable === false || entry.version <= 0n) return;
        await hooks?.beforeFill?.(key, entry.version);
        // A marker only fences fills for its lifetime; an older read could outlive it.
        if (this.now() - readStartedAt > maxFillAgeMs(timing)) return count('skipped_old');
        if (breaker.state !== 'closed') return;
        try {
          const payload = Buffer.from(src.encode(entry.value));
          const written = await redis.versionedFill(key, entry.version.toString(), generation.toString(), jitteredTtlMs(timing), payload);
          breaker.recordSuccess();
          count(written === 1 ? 'written' : 'fenced');
        } catch (err) {
          breaker.recordFailure();
          log.debug({ err, key }, 'cache fill failed');
        }
      }),
    );
  }
}
