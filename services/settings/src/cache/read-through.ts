import {
  establishGeneration,
  generationKey,
  groupBySlot,
  isRedisCluster,
  jitteredTtlMs,
  keySlot,
  maxFillAgeMs,
  parseCacheValue,
  PayloadGenerations,
  type CacheKey,
  type CacheRedis,
  type CacheTiming,
  type CacheValue,
  type FillLease,
  type KeySpace,
  type Logger,
} from '@settings/shared';
import type { Cluster } from 'ioredis';
import type { ConsistencyToken } from '../consistency/token';
import type { ReadMode } from '../consistency/read-mode';
import { SettingsError } from '../errors';
import type { SettingsMetrics } from '../metrics';
import type { FairShareLimiter } from '../admission/fair-share-limiter';
import type { AuditSampler } from './audit-sampler';
import type { CircuitBreaker } from './circuit-breaker';
import { CoalescedMget } from './coalesced-mget';
import type { ConcurrencyLimiter } from './concurrency-limiter';
import { leaseOrWait, releaseLeases, type FillLeaseOptions, type LeaseSplit } from './fill-lease-wait';
import { nearPayload, payloadBytes, type NearCache, type NearEntry, type ReadTicket } from './near-cache';
import { SingleFlight, type Claim } from './single-flight';

export interface Loaded<T> {
  readonly version: bigint;
  readonly value: T;
  /** False for values that must not be cached (no version yet, too large). */
  readonly cacheable?: boolean;
  /**
   * The protobuf bytes `value` was decoded from, when it was served from the cache (Redis or the
   * near-cache): a response that is this message can be written to the wire as they are. A Redis
   * hit that is not put into the near-cache decodes `value` only when it is first read.
   */
  readonly payload?: Buffer;
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
  /** When the gRPC call arrived (epoch ms). */
  readonly startedAt: number;
  readonly deadline: number;
  /** Who is calling (the token's `sub`): deliberate database reads are shared fairly between callers. */
  readonly caller?: string;
  /**
   * Its fills leave alone an entry of another generation at the version they loaded (another
   * release's fill of the same row, payload-generation.ts). Watch re-reads set it: they run on
   * every change Redis pushes, fills included, so two releases' watchers that each replaced the
   * other's entry would refill the key back and forth without any caller reading it.
   */
  readonly yieldToSameVersion?: boolean;
  /**
   * Join only database loads that started after this read did, as fully_consistent reads do. A
   * Watch re-read sets it: the change that caused it carries no version a joined load's answer
   * could be compared with. A token read without it joins any load and takes its answer only
   * when that reaches the token (else it loads again).
   */
  readonly joinsOnlyLaterLoads?: boolean;
}

export interface ReadThroughHooks {
  /** Test seam: runs between the database read and the fill of each key. */
  beforeFill?(key: string, version: bigint): Promise<void> | void;
  /** Test seam: runs after a Redis lookup's reply and before its entries go into the near-cache. */
  afterLookup?(keys: readonly string[]): Promise<void> | void;
}

export interface ReadThroughDeps {
  redis: CacheRedis;
  breaker: CircuitBreaker;
  fallbackLimiter: ConcurrencyLimiter;
  metrics: SettingsMetrics;
  timing: CacheTiming;
  log: Logger;
  hooks?: ReadThroughHooks;
  /** False while the Redis server's incarnation is unverified: the cache is treated as down. */
  cacheTrusted?: () => boolean;
  /**
   * Redis Cluster: whether the master at `node` (host:port, as the client's slot map names it)
   * is one the last incarnation check compared (incarnation-gate.ts). Absent: every one is.
   */
  masterVerified?: (node: string) => boolean;
  now?: () => number;
  /** Receives every served hit; samples some for the staleness auditor (audit-sampler.ts). */
  auditSampler?: Pick<AuditSampler, 'offer'>;
  /**
   * Admission of reads that go to PostgreSQL on purpose (fully_consistent, or an entry older than
   * the caller's token): rejects (RESOURCE_EXHAUSTED) a caller over its share (admission/).
   */
  deliberateReads?: Pick<FairShareLimiter, 'chargeCall' | 'acquire'>;
  /** The in-process near-cache (near-cache.ts), coherent through Redis tracking; absent = off. */
  near?: NearCache;
  /** Cross-replica fill leases for cold keys of minimize_latency reads (fill-lease-wait.ts); absent = off. */
  fillLease?: FillLeaseOptions;
  /** TTL of a cached absence (a key whose load found no row); 0 or absent = absences are not cached. */
  absentTtlMs?: number;
  /**
   * The generations this release's entries carry (payload-generation.ts): every generation read
   * from Redis goes through it, and so every comparison, fill and near-cache install sees the
   * served one. Default: the payload formats of the shared table descriptors.
   */
  payloadGenerations?: PayloadGenerations;
}

/**
 * A cached absence: an entry of version 0 with no payload, filled for a key whose load found no
 * row. Rows draw their versions from settings_version_seq, which starts at 1, so version 0 is
 * below every row that can ever exist: any marker fences its fill (versioned-fill.lua), and the
 * marker of the row's creation replaces it (evict-to-marker.lua), exactly as for a stale entry.
 */
const ABSENT = Symbol('absent');
type Found<T> = Loaded<T> | typeof ABSENT;
const isAbsence = (value: { version: bigint }): boolean => value.version === 0n;

/** One Redis read of a space's generation and some entries; `ticket` while installs into the near-cache are allowed. */
/** `claimsBefore`: SingleFlight.claimsSoFar when Redis's answer was in hand (flights claimed later started after it). */
type Lookup = { generation: bigint; values: Array<CacheValue | undefined>; ticket: ReadTicket | undefined; claimsBefore: number } | undefined;
type Outcome = Loaded<unknown> | undefined;

/** How a flight's keys are loaded. */
interface FlightOptions {
  /** The generation read before the load (fills use it); undefined when Redis was not read. */
  generation: bigint | undefined;
  /** Redis failed: the load takes a fallback permit or is shed. */
  fallback: boolean;
  /** A deliberate PostgreSQL read (fully_consistent, token newer than the cache), by caller. */
  deliberateFor: string | undefined;
  /** Take each key's fill lease first, and read another replica's fill instead of loading. */
  lease: boolean;
  /**
   * Keys this read found invalidated, with their markers' floors: a version at least this new
   * exists, so an answer older than it (or an absence) from a load joined here is stale.
   */
  floors?: ReadonlyMap<string, bigint>;
  /** Lookup.claimsBefore of the read that found the floors. */
  floorsSeenBeforeClaim?: number;
  /** ReadRequest.yieldToSameVersion of the read that starts the flight. */
  yieldToSameVersion?: boolean;
}

/** What the lookup told a read besides its hits. */
interface Seen {
  /** An entry older than the caller's consistency token. */
  staleToken: boolean;
  /** Invalidated keys and their markers' floors (FlightOptions.floors). */
  floors: Map<string, bigint>;
}

const first = <T>(results: readonly T[]): T | undefined => results[0];

/**
 * How close to its starter's deadline a joined load may fail and still count as having run out
 * of time: a statement's timeout is the whole milliseconds left when it is sent, so it can end
 * a little before the deadline itself.
 */
const STARTER_DEADLINE_SLACK_MS = 50;

/**
 * Cache-aside reads under the shared cache contract: entries are only ever written by the
 * versioned-fill script, with the version of the row read and the key space generation read
 * before the query, so a fill racing an eviction loses. Nothing here deletes or overwrites.
 */
export class ReadThrough {
  private readonly flights: SingleFlight<Outcome>;
  private readonly now: () => number;
  /** A Redis Cluster: no multi-slot MGET (see readGenerationAndEntries). */
  private readonly clustered: boolean;
  /** One Redis: the lookups of calls that arrive together share one MGET (coalesced-mget.ts). */
  private readonly mget: CoalescedMget;
  private readonly payloadGenerations: PayloadGenerations;

  constructor(private readonly deps: ReadThroughDeps) {
    this.now = deps.now ?? Date.now;
    this.payloadGenerations = deps.payloadGenerations ?? new PayloadGenerations();
    this.clustered = isRedisCluster(deps.redis);
    this.mget = new CoalescedMget(deps.redis);
    this.flights = new SingleFlight<Outcome>();
  }

  /** One key; undefined when the resource does not exist. */
  async get<K, T>(src: ReadSource<K, T>, key: K, req: ReadRequest): Promise<Loaded<T> | undefined> {
    return this.readOne(src, key, req, true);
  }

  /**
   * `get`, answered synchronously (no promise) when the near-cache holds the entry: a near-cache
   * hit is most cached reads, and skipping the promise and its microtask turns is what keeps a
   * cached Get close to an empty handler's cost (unary.ts).
   */
  read<K, T>(src: ReadSource<K, T>, key: K, req: ReadRequest): Loaded<T> | undefined | Promise<Loaded<T> | undefined> {
    return this.readOne(src, key, req, false);
  }

  /** Results in the order of `keys`; undefined where the resource does not exist. */
  /**
   * A database read no cache can answer (a page of a list too large to cache), admitted like a
   * deliberate read: it spends the caller's rate and runs under one of the caller's fair-share
   * permits, so one caller cannot fill the read pool with them.
   */
  async deliberateRead<R>(req: Pick<ReadRequest, 'caller' | 'deadline' | 'mode'>, read: () => Promise<R>): Promise<R> {
    const limiter = this.deps.deliberateReads;
    if (!limiter) return read();
    const caller = req.caller ?? 'anonymous';
    // A fully_consistent call was charged once already, by its own read of the list.
    const overRate = req.mode.kind === 'fully_consistent' ? undefined : limiter.chargeCall(caller, req.deadline);
    if (overRate) await overRate;
    const release = await limiter.acquire(caller, req.deadline);
    try {
      return await read();
    } finally {
      release();
    }
  }

  getMany<K, T>(src: ReadSource<K, T>, keys: readonly K[], req: ReadRequest): Promise<Array<Loaded<T> | undefined>> {
    return this.readMany(src, keys, req, true, true);
  }

  /**
   * `decode` false: the caller may answer with the cached payload as it is (a Get), so a Redis
   * hit that goes nowhere else is decoded only if its `value` is read. Every other caller reads
   * `value`; decoding it in the lookup turns an undecodable entry into a database read instead
   * of a failure later, outside the read path (INTERNAL).
   */
  private readOne<K, T>(src: ReadSource<K, T>, key: K, req: ReadRequest, decode: boolean): Loaded<T> | undefined | Promise<Loaded<T> | undefined> {
    // The bytes of a near-cache hit only for a caller that may answer with them (a Get).
    const hit = this.servedNear(src, src.cacheKey(key).key, req, !decode);
    if (hit === ABSENT) return undefined;
    return hit ?? this.readMany(src, [key], req, false, decode).then(first);
  }

  /** A near-cache hit served for `req` (never for fully_consistent), offered to the auditor. */
  private servedNear<K, T>(src: ReadSource<K, T>, cacheKey: string, req: ReadRequest, bytes: boolean): Found<T> | undefined {
    if (req.mode.kind === 'fully_consistent') return undefined;
    const hit = this.nearHit(src, cacheKey, req.mode, bytes);
    if (hit) this.served(src.space, cacheKey, hit);
    return hit;
  }

  /** A hit served from the cache (near or Redis): offered to the staleness auditor. */
  private served(space: KeySpace, cacheKey: string, hit: Found<unknown>): void {
    if (hit === ABSENT) this.deps.metrics.notFoundHits.inc({ space });
    this.deps.auditSampler?.offer(space, cacheKey, hit === ABSENT ? 0n : hit.version);
  }

  /** `askNear` false: the caller has just asked the near-cache (read), and it had none of them. */
  private async readMany<K, T>(src: ReadSource<K, T>, keys: readonly K[], req: ReadRequest, askNear: boolean, decode: boolean): Promise<Array<Loaded<T> | undefined>> {
    // Loads claimed from here on started after this read (fully_consistent and Watch re-reads join only those).
    const claimsAtStart = this.flights.claimsSoFar;
    const cacheKeys = keys.map((k) => src.cacheKey(k).key);
    const results: Array<Loaded<T> | undefined> = new Array(keys.length);
    const pending = new Map<string, K>();

    const bypass = req.mode.kind === 'fully_consistent';
    // Keys the near-cache cannot serve go to Redis: generation and entries in one MGET.
    const remaining: number[] = [];
    cacheKeys.forEach((ck, i) => {
      const hit = askNear ? this.servedNear(src, ck, req, false) : undefined;
      if (hit) results[i] = hit === ABSENT ? undefined : hit;
      else remaining.push(i);
    });
    if (remaining.length === 0) return results;

    const lookup = bypass ? undefined : await this.lookup(src.space, remaining.map((i) => cacheKeys[i]!));
    if (!bypass && !lookup) this.deps.metrics.fallback.inc();

    const seen: Seen = { staleToken: false, floors: new Map() };
    try {
      if (lookup && this.deps.hooks?.afterLookup) await this.deps.hooks.afterLookup(remaining.map((i) => cacheKeys[i]!));
      remaining.forEach((i, j) => {
        const ck = cacheKeys[i]!;
        const hit = lookup ? this.classify(src, lookup, j, ck, req.mode, seen, decode) : undefined;
        if (hit) {
          results[i] = hit === ABSENT ? undefined : hit;
          this.served(src.space, ck, hit);
        } else pending.set(ck, keys[i]!);
      });
    } finally {
      if (lookup?.ticket) this.deps.near?.endRead(lookup.ticket);
    }
    if (pending.size === 0) return results;

    const deliberateFor = bypass || seen.staleToken ? (req.caller ?? 'anonymous') : undefined;
    // Each deliberate call spends its caller's rate, also when it joins another call's query.
    const overRate = deliberateFor === undefined ? undefined : this.deps.deliberateReads?.chargeCall(deliberateFor, req.deadline);
    if (overRate) await overRate;
    const loaded = await this.loadCoalesced(src, pending, req, claimsAtStart, {
      generation: lookup?.generation,
      fallback: !bypass && !lookup,
      lease: req.mode.kind === 'minimize_latency' && lookup !== undefined && this.deps.fillLease !== undefined,
      deliberateFor,
      floors: seen.floors,
      ...(lookup ? { floorsSeenBeforeClaim: lookup.claimsBefore } : {}),
      yieldToSameVersion: req.yieldToSameVersion === true,
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
    const near = this.deps.near?.usable ? this.deps.near : undefined;
    // Taken before the MGET is sent: an invalidation arriving before its reply refuses the install.
    const ticket = near?.beginRead([generationKey(space), ...keys]);
    let claimsBefore: number;
    try {
      const read = await this.readGenerationAndEntries(space, keys, near);
      claimsBefore = this.flights.claimsSoFar;
      if (read === undefined) {
        // Answered, or about to be asked, by a master no incarnation check has seen: PostgreSQL.
        if (ticket) near!.endRead(ticket);
        breaker.releaseProbe();
        return undefined;
      }
      const [gen, ...rest] = read;
      // No generation (Redis restarted empty): create one before the database read, so fills
      // from before the restart can never match it. A generation that is not a number means
      // something else writes our keys: BigInt throws and the cache is not trusted.
      // (Awaited only when there is none: every other lookup saves a promise and a microtask turn.)
      // The served generation (this release's payload format folded in): what entries, fills
      // and the near-cache compare, never the raw value.
      generation = this.payloadGenerations.of(space, BigInt(gen ? gen.toString('latin1') : await establishGeneration(redis, space, null)));
      bufs = rest;
      breaker.recordSuccess();
      // Only a generation Redis already had is what Redis holds; one we just created is not installed.
      if (ticket && gen) near!.installGeneration(ticket, space, generation);
    } catch (err) {
      if (ticket) near!.endRead(ticket);
      breaker.recordFailure(err);
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
    return { generation, values, ticket, claimsBefore };
  }

  /**
   * One Redis: one MGET, one round trip — the generation and the entries it decides about, read
   * at one instant (an MGET shared with the other calls of the same turn of the event loop). A
   * Redis Cluster cannot MGET across slots (the generation key has its own),
   * so there the generation comes from the near-cache when it holds it (tracked like an entry,
   * so no generation read concentrates every reader on the generation's slot) or from a GET sent
   * alongside one MGET per slot of the entries (one account = one slot). Not one instant then,
   * and not needed: the generation is still read before the database read (fills carry it), and
   * an entry served under a generation read just before a TRUNCATE is what a read at that moment
   * returned (cache contract, non-guarantee 23 in the README).
   */
  private async readGenerationAndEntries(space: KeySpace, keys: readonly string[], near: NearCache | undefined): Promise<Array<Buffer | null> | undefined> {
    const { redis } = this.deps;
    if (!this.clustered) return this.mget.mget([generationKey(space), ...keys]);
    const cluster = redis as Cluster;
    const held = near?.generation(space);
    const groups = groupBySlot(keys.map((key, i) => ({ key, i })), (k) => k.key);
    // Who serves each slot read, before and after. A failover shows in the client's slot map
    // before the incarnation check sees it: a MOVED is followed at once, to a promoted replica
    // that may lack the old master's last markers, and the slot refresh that closes the gate
    // comes later. An answer from a master the last check did not compare, or from another
    // master than the one asked (a MOVED followed meanwhile), is not trusted.
    const slots = groups.map((group) => keySlot(group[0]!.key));
    if (held === undefined) slots.push(keySlot(generationKey(space)));
    const owners = slots.map((slot) => cluster.slots[slot]?.[0]);
    const verified = this.deps.masterVerified;
    if (verified && !owners.every((owner) => owner !== undefined && verified(owner))) return undefined;
    const [gen, ...replies] = await Promise.all([
      // The near-cache holds served generations: back to the one Redis holds (XOR is its own inverse).
      held !== undefined ? Buffer.from(this.payloadGenerations.of(space, held).toString(), 'latin1') : redis.getBuffer(generationKey(space)),
      ...groups.map((group) => redis.mgetBuffer(...group.map((k) => k.key))),
    ]);
    if (verified && slots.some((slot, i) => cluster.slots[slot]?.[0] !== owners[i])) return undefined;
    const entries = new Array<Buffer | null>(keys.length);
    groups.forEach((group, g) => group.forEach(({ i }, j) => (entries[i] = replies[g]![j] ?? null)));
    return [gen ?? null, ...entries];
  }

  /**
   * A near-cache hit: only while tracking is on and Redis is trusted (incarnation verified,
   * breaker closed), under the space's current generation, and for at_least_as_fresh only when
   * the entry reaches the token (an older one falls through to Redis, then PostgreSQL).
   */
  private nearHit<K, T>(src: ReadSource<K, T>, key: string, mode: ReadMode, bytes: boolean): Found<T> | undefined {
    const { near, metrics, breaker } = this.deps;
    if (!near) return undefined;
    if (!near.usable || (this.deps.cacheTrusted && !this.deps.cacheTrusted()) || breaker.state !== 'closed') {
      metrics.nearCacheRequestTally.inc(src.space, 'off');
      return undefined;
    }
    const entry = near.get(src.space, key);
    if (!entry) {
      metrics.nearCacheRequestTally.inc(src.space, 'miss');
      return undefined;
    }
    if (mode.kind === 'at_least_as_fresh' && entry.version < (src.tokenVersion ? src.tokenVersion(mode.token) : mode.token.version)) {
      metrics.nearCacheRequestTally.inc(src.space, 'stale_token');
      return undefined;
    }
    metrics.nearCacheRequestTally.inc(src.space, 'hit');
    metrics.cacheRequestTally.inc(src.space, 'hit');
    if (isAbsence(entry)) return ABSENT;
    // Installed decoded (classify, readFilled); decoded here only if an install ever is not.
    entry.decoded ??= src.decode(payloadBytes(entry));
    // Bytes only for a caller that answers with them (a Get): BatchGet, List and Watch read
    // `value`, and a copy of a string-held payload would be made for nothing.
    return bytes ? { version: entry.version, value: entry.decoded as T, payload: payloadBytes(entry) } : { version: entry.version, value: entry.decoded as T };
  }

  /** Puts a decoded Redis entry into the near-cache, under the read's ticket. */
  private installNear(ticket: ReadTicket | undefined, space: KeySpace, key: string, value: CacheValue & { kind: 'entry' }, decoded: unknown): void {
    if (!ticket) return;
    const entry: NearEntry = { space, version: value.version, generation: value.generation, payload: nearPayload(value.payload), decoded };
    this.deps.near?.install(ticket, key, entry);
  }

  private classify<K, T>(
    src: ReadSource<K, T>,
    lookup: NonNullable<Lookup>,
    index: number,
    key: string,
    mode: ReadMode,
    seen: Seen,
    decode: boolean,
  ): Found<T> | undefined {
    const { generation } = lookup;
    const value = lookup.values[index];
    let outcome: 'hit' | 'miss' | 'stale_token' | 'marker';
    if (value === undefined) outcome = 'miss';
    else if (value.kind === 'marker') outcome = 'marker';
    // An entry of another generation was orphaned by a TRUNCATE.
    else if (value.generation !== generation) outcome = 'miss';
    else if (mode.kind === 'at_least_as_fresh' && value.version < (src.tokenVersion ? src.tokenVersion(mode.token) : mode.token.version)) outcome = 'stale_token';
    else outcome = 'hit';

    let hit: Found<T> | undefined;
    if (outcome === 'hit' && value?.kind === 'entry' && isAbsence(value)) {
      hit = ABSENT;
      this.installNear(lookup.ticket, src.space, key, value, undefined);
    } else if (outcome === 'hit' && value?.kind === 'entry' && !lookup.ticket && !decode) {
      // Nothing goes into the near-cache (it is off or not tracking) and the caller may answer
      // with the payload as it is (a Get): decode only if `value` is read.
      const { payload } = value;
      let decoded: T | undefined;
      hit = {
        version: value.version,
        payload,
        get value(): T {
          return (decoded ??= src.decode(payload));
        },
      };
    } else if (outcome === 'hit' && value?.kind === 'entry') {
      try {
        const decoded = src.decode(value.payload);
        hit = { version: value.version, value: decoded, payload: value.payload };
        this.installNear(lookup.ticket, src.space, key, value, decoded);
      } catch (err) {
        this.deps.log.warn({ err, space: src.space }, 'undecodable cache payload; reading PostgreSQL');
        outcome = 'miss';
      }
    }
    this.deps.metrics.cacheRequestTally.inc(src.space, outcome);
    if (outcome === 'stale_token') seen.staleToken = true;
    if (value?.kind === 'marker') seen.floors.set(key, value.floor);
    // Another generation's entry fences like a marker (versioned-fill.lua treats it so): a
    // version at least this new existed, written by another release's format or before a
    // renewal, so a joined load older than it predates what this read already saw.
    else if (value?.kind === 'entry' && value.generation !== generation && !isAbsence(value)) seen.floors.set(key, value.version);
    return hit;
  }

  private async loadCoalesced<K, T>(
    src: ReadSource<K, T>,
    pending: Map<string, K>,
    req: ReadRequest,
    claimsAtStart: number,
    opts: FlightOptions,
  ): Promise<Map<string, Loaded<T> | undefined>> {
    // fully_consistent promises a snapshot taken after the call arrived: only a load claimed
    // after this read began will do (counted, not timed: a wall clock stepped back let such a
    // read join an older load). A token promises a version: any load in flight will, if its
    // answer reaches the token (checked below like a marker's floor). Fenced by arrival time
    // instead, token reads of a key Redis never holds (a staff list with no row or over the cache
    // cap) each started a query of their own whenever they arrived in the same millisecond as the
    // running one, neither shared nor charged as deliberate reads.
    const laterThanClaim = req.mode.kind === 'fully_consistent' || req.joinsOnlyLaterLoads === true ? claimsAtStart : undefined;
    const tokenFloor = req.mode.kind === 'at_least_as_fresh' ? (src.tokenVersion ? src.tokenVersion(req.mode.token) : req.mode.token.version) : 0n;
    // Per key: the load awaited, the deadline of a joined one (undefined: our own), and whether
    // a joined one was claimed after this read's lookup answered.
    const waits: Array<[string, Promise<Outcome>, number | undefined, boolean]> = [];
    const mine: string[] = [];
    for (const ck of pending.keys()) {
      // A token read never joins a leased load (README: tokens never wait on a lease).
      const joined = this.flights.join(ck, {
        ...(laterThanClaim === undefined ? {} : { laterThanClaim }),
        ...(opts.deliberateFor === undefined ? {} : { caller: opts.deliberateFor }),
        ...(opts.generation === undefined ? {} : { generation: opts.generation }),
        leasedOk: req.mode.kind !== 'at_least_as_fresh',
      });
      if (joined) {
        this.deps.metrics.coalesced.inc();
        waits.push([ck, joined.promise, joined.deadline, opts.floorsSeenBeforeClaim !== undefined && joined.claimNumber > opts.floorsSeenBeforeClaim]);
      } else {
        mine.push(ck);
      }
    }
    for (const [ck, p] of this.startFlight(src, mine, pending, req, opts)) waits.push([ck, p, undefined, true]);
    const out = new Map<string, Loaded<T> | undefined>();
    const behind: string[] = [];
    for (const [ck, p, joinedDeadline, claimedAfterLookup] of waits) {
      let got: Loaded<T> | undefined;
      try {
        got = (await p) as Loaded<T> | undefined;
      } catch (err) {
        if (joinedDeadline !== undefined && this.ranOutOfItsStartersTime(joinedDeadline, req.deadline)) {
          behind.push(ck);
          continue;
        }
        throw err;
      }
      const markerFloor = opts.floors?.get(ck);
      const floor = tokenFloor > 0n && (markerFloor === undefined || markerFloor < tokenFloor) ? tokenFloor : markerFloor;
      // A joined load may have started before the change whose marker this read found (a load
      // slower than the invalidation lag), or before the write the caller's token names: what it
      // read predates them. Loaded again by a flight that starts now, after the marker landed and
      // the token was issued. Not a load claimed after this read's lookup answered: it started
      // after the marker was in Redis, so after the change committed, and its answer (an absence
      // of a deleted row included: a deletion's floor is one above the last version) is current.
      // Refused too, every concurrent Get of a deleted name made a query of its own for as long
      // as the marker lived. A token's floor is still checked (the flight may be a leased one,
      // answered by another replica's fill that is not fenced by the token).
      const afterMarker = claimedAfterLookup && tokenFloor === 0n;
      if (joinedDeadline !== undefined && floor !== undefined && !afterMarker && (got === undefined || got.version < floor)) behind.push(ck);
      else out.set(ck, got);
    }
    for (const [ck, p] of this.startFlight(src, behind, pending, req, opts)) out.set(ck, (await p) as Loaded<T> | undefined);
    return out;
  }

  /**
   * A joined load failed at (or after) its starter's deadline, earlier than this read's own: it
   * ran out of the starter's time, which is not this read's answer (the query runs with the
   * deadline of the call that started it). The read loads the key itself with its own time.
   * Any failure that close to the starter's deadline counts, whatever its error says: a
   * statement cancelled at its timeout and one refused because the deadline had passed look
   * different, and telling them from an outage by text would be brittle; an outage costs such a
   * read one more attempt of its own.
   */
  private ranOutOfItsStartersTime(startersDeadline: number, ownDeadline: number): boolean {
    const now = this.now();
    return startersDeadline < ownDeadline && now >= startersDeadline - STARTER_DEADLINE_SLACK_MS && now < ownDeadline;
  }

  /** Claims and starts one flight loading `keys`; their promises, by cache key. */
  private startFlight<K, T>(src: ReadSource<K, T>, keys: readonly string[], pending: ReadonlyMap<string, K>, req: ReadRequest, opts: FlightOptions): Array<[string, Promise<Outcome>]> {
    if (keys.length === 0) return [];
    // A leased flight may answer with another replica's fill: fresh reads must not join it.
    const flight = this.flights.claim(keys, {
      freshJoinable: !opts.lease,
      deadline: req.deadline,
      ...(opts.deliberateFor === undefined ? {} : { owner: opts.deliberateFor }),
      ...(opts.generation === undefined ? {} : { generation: opts.generation }),
    });
    void this.runFlight(src, keys.map((ck) => [ck, pending.get(ck)!] as const), flight, req.deadline, opts);
    return keys.map((ck, i) => [ck, flight.promises[i]!]);
  }

  private async runFlight<K, T>(
    src: ReadSource<K, T>,
    keys: ReadonlyArray<readonly [string, K]>,
    flight: ReturnType<SingleFlight<Outcome>['claim']>,
    deadline: number,
    opts: FlightOptions,
  ): Promise<void> {
    const { fallbackLimiter, metrics } = this.deps;
    let release: (() => void) | undefined;
    const leases: FillLease[] = [];
    let abandoned = false;
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
      } else if (opts.deliberateFor !== undefined) {
        release = await this.deps.deliberateReads?.acquire(opts.deliberateFor, deadline);
      }
      const byKey = new Map(keys);
      const claimsOf = (decided: Iterable<string>): Array<Claim<Outcome>> => {
        const keySet = new Set(decided);
        return flight.claims.filter((c) => keySet.has(c.key));
      };
      // Without a lease: one phase, every key loaded here.
      let phase: LeaseSplit<Found<T>> | undefined = { load: keys.map(([ck]) => ck), leases: [], filled: new Map() };
      if (opts.lease && this.deps.fillLease) {
        // Cold keys: one replica loads (the lease holder), the others read its fill. Keys are
        // decided in phases: the ones leased or filled so far are answered while the others wait.
        phase = await leaseOrWait(keys.map(([ck]) => ck), deadline, this.deps.fillLease, {
          redis: this.deps.redis,
          log: this.deps.log,
          near: this.deps.near,
          now: this.now,
          readFilled: (cks) => this.readFilled(src, cks),
          count: (result) => metrics.fillLeases.inc({ space: src.space, result }),
          abandoned: () => abandoned,
        });
      }
      // Each phase is loaded and filled as soon as it is decided, beside the later phases' waits
      // (a lease won meanwhile would otherwise run out while an earlier load runs).
      const phases: Array<Promise<void>> = [];
      for (; phase; phase = await phase.rest) {
        leases.push(...phase.leases);
        const current: LeaseSplit<Found<T>> = phase;
        const done = this.runPhase(src, current, byKey, claimsOf, deadline, opts, release)
          .finally(() => {
            // A phase's leases go when its fill is done, not when the flight's last phase is:
            // other replicas waiting on them would sit out their whole lifetime whenever the
            // fill did not land (not cacheable, fenced by a marker, the breaker open).
            if (current.leases.length === 0) return;
            const mine = new Set(current.leases);
            leases.splice(0, leases.length, ...leases.filter((l) => !mine.has(l)));
            releaseLeases(this.deps.redis, current.leases, this.deps.log);
          })
          .catch((err: unknown) => {
            // Its keys fail now; the keys still waited for stop being waited for.
            abandoned = true;
            for (const claim of claimsOf(current.load)) claim.reject(err);
            throw err;
          });
        done.catch(() => undefined);
        phases.push(done);
      }
      await Promise.all(phases);
    } catch (err) {
      for (const claim of flight.claims) claim.reject(err);
    } finally {
      abandoned = true;
      release?.();
      if (leases.length > 0) releaseLeases(this.deps.redis, leases, this.deps.log);
      flight.release();
    }
  }

  /** One phase of a flight: answers the keys another replica filled, loads and fills the rest. */
  private async runPhase<K, T>(
    src: ReadSource<K, T>,
    phase: LeaseSplit<Found<T>>,
    byKey: ReadonlyMap<string, K>,
    claimsOf: (keys: Iterable<string>) => Array<Claim<Outcome>>,
    deadline: number,
    opts: FlightOptions,
    release: (() => void) | undefined,
  ): Promise<void> {
    for (const claim of claimsOf(phase.filled.keys())) {
      const filled = phase.filled.get(claim.key);
      claim.resolve(filled === ABSENT ? undefined : filled);
    }
    if (phase.load.length === 0) return;
    const readStartedAt = this.now();
    // The one place this class reads PostgreSQL.
    const loaded = await src.load(phase.load.map((ck) => byKey.get(ck)!), deadline);
    // A permit (fallback or deliberate read) is held by flights without leases: one phase.
    release?.();
    for (const claim of claimsOf(phase.load)) claim.resolve(loaded.get(claim.key));
    if (opts.generation !== undefined) await this.fill(src, phase.load, loaded, opts.generation, readStartedAt, opts.yieldToSameVersion === true);
  }

  /**
   * Entries of `keys` that Redis holds under the current generation (another replica's fill),
   * for readers waiting on a fill lease; undefined when Redis cannot be read.
   */
  private async readFilled<K, T>(src: ReadSource<K, T>, keys: readonly string[]): Promise<Map<string, Found<T>> | undefined> {
    const lookup = await this.lookup(src.space, keys);
    if (!lookup) return undefined;
    const out = new Map<string, Found<T>>();
    try {
      keys.forEach((key, i) => {
        const value = lookup.values[i];
        if (value?.kind !== 'entry' || value.generation !== lookup.generation) return;
        if (isAbsence(value)) {
          out.set(key, ABSENT);
          this.installNear(lookup.ticket, src.space, key, value, undefined);
          return;
        }
        try {
          const decoded = src.decode(value.payload);
          out.set(key, { version: value.version, value: decoded, payload: value.payload });
          this.installNear(lookup.ticket, src.space, key, value, decoded);
        } catch (err) {
          this.deps.log.warn({ err, key }, 'undecodable cache payload; reading PostgreSQL');
        }
      });
    } finally {
      if (lookup.ticket) this.deps.near?.endRead(lookup.ticket);
    }
    return out;
  }

  /**
   * Fills what `keys`' load returned, and, when absences are cached, version-0 entries for the
   * keys it did not return (no row): the same script and fences as any fill.
   */
  private async fill<K, T>(src: ReadSource<K, T>, keys: readonly string[], loaded: Map<string, Loaded<T>>, generation: bigint, readStartedAt: number, yieldToSameVersion: boolean): Promise<void> {
    const { redis, breaker, metrics, timing, hooks, log, absentTtlMs = 0 } = this.deps;
    const count = (result: 'written' | 'fenced' | 'skipped_old'): void => metrics.cacheFills.inc({ space: src.space, result });
    const absent = absentTtlMs > 0 ? keys.filter((key) => !loaded.has(key)) : [];
    const fills: Array<readonly [string, Loaded<T> | undefined]> = [...loaded, ...absent.map((key) => [key, undefined] as const)];
    // One failure for the breaker however many of these fail: they go out together (one
    // auto-pipelined write), so one Redis stall fails them all, and counted per key a BatchGet of
    // `failureThreshold` cold keys opened the breaker on its own (every read to PostgreSQL).
    const round = {};
    await Promise.all(
      fills.map(async ([key, entry]) => {
        if (entry && (entry.cacheable === false || entry.version <= 0n)) return;
        await hooks?.beforeFill?.(key, entry?.version ?? 0n);
        // A marker only fences fills for its lifetime; an older read could outlive it.
        if (this.now() - readStartedAt > maxFillAgeMs(timing)) return count('skipped_old');
        if (breaker.state !== 'closed') return;
        try {
          const payload = entry ? Buffer.from(src.encode(entry.value)) : Buffer.alloc(0);
          const ttlMs = entry ? jitteredTtlMs(timing) : absentTtlMs;
          const version = (entry?.version ?? 0n).toString();
          const written = yieldToSameVersion
            ? await redis.versionedFill(key, version, generation.toString(), ttlMs, payload, timing.markerTtlMs, '1')
            : await redis.versionedFill(key, version, generation.toString(), ttlMs, payload, timing.markerTtlMs);
          breaker.recordSuccess();
          count(written === 1 ? 'written' : 'fenced');
        } catch (err) {
          breaker.recordFailure(round);
          log.debug({ err, key }, 'cache fill failed');
        }
      }),
    );
  }
}
