/**
 * Coalesces concurrent loads of one key in this process into one database query.
 *
 * A caller may require a load claimed after a point of its own (`laterThanClaim`, a
 * `claimsSoFar` it read): a fully consistent read (or a Watch re-read after a change) must not be
 * answered by a query that began before the caller's own request arrived (its snapshot could
 * predate a write the caller already saw). Claims are counted, not timed: a wall clock counts
 * whole milliseconds and can step back. A token read joins any load and checks its answer's
 * version itself (read-through.ts). And a load that first waits for one caller's share of
 * deliberate reads (`owner`, fair-share-limiter.ts) is joined only by that caller's reads:
 * anyone else joining it would wait behind that caller's share, and be refused with it, for a
 * read of their own. Nor is a load joined by a read that looked the key up under another
 * generation: a renewal (TRUNCATE, restore, Redis restart) between the two lookups may have
 * removed or rewound the row the older load is reading.
 */
interface Flight<T> {
  readonly promise: Promise<T>;
  readonly owner: string | undefined;
  /** The deadline the load runs with: its starter's (epoch ms). */
  readonly deadline: number;
  /** The cache generation its starter looked the key up under (undefined: Redis not read). */
  readonly generation: bigint | undefined;
  /** Its claim's place in this process's order of claims (SingleFlight.claimsSoFar). */
  readonly claimNumber: number;
  /** May answer with another replica's fill (`freshJoinable: false`). */
  readonly leased: boolean;
}

/** A load joined: its result, and the deadline it runs with (a joiner with more time may outlive it). */
export interface Joined<T> {
  readonly promise: Promise<T>;
  readonly deadline: number;
  /** Its claim's place in the order of claims: greater than a `claimsSoFar` read earlier means claimed after that read. */
  readonly claimNumber: number;
}

/** SingleFlight.join's requirements of a load. */
export interface JoinRequirements {
  readonly laterThanClaim?: number;
  readonly caller?: string;
  readonly generation?: bigint;
  readonly leasedOk?: boolean;
}

export interface Claim<T> {
  key: string;
  resolve(value: T): void;
  reject(err: unknown): void;
}

export class SingleFlight<T> {
  private readonly flights = new Map<string, Flight<T>>();
  private claimed = 0;

  /**
   * The in-flight load of `key` if it may be joined by a read with these requirements:
   * `laterThanClaim`, only a load claimed after that many claims (and never a leased one: its
   * answer may be another replica's fill, whose database read can predate the caller);
   * `caller` (undefined: not a deliberate read); `generation` (undefined: Redis not read, any
   * load will do; defined: only a load started under that generation); `leasedOk` false: not a
   * load that may answer with another replica's fill (a token read would wait on that replica's
   * lease for an answer it may then refuse).
   */
  join(key: string, opts: JoinRequirements = {}): Joined<T> | undefined {
    const flight = this.flights.get(key);
    if (!flight) return undefined;
    if (opts.laterThanClaim !== undefined && (flight.leased || flight.claimNumber <= opts.laterThanClaim)) return undefined;
    if (flight.leased && opts.leasedOk === false) return undefined;
    // A load that did not read Redis (a fallback: its lookup failed) may have started before a
    // renewal the joiner's lookup saw: joined, a read after a TRUNCATE's new generation was
    // answered with the truncated row.
    if (opts.generation !== undefined && flight.generation !== opts.generation) return undefined;
    return flight.owner === undefined || flight.owner === opts.caller ? flight : undefined;
  }

  /**
   * How many claims this process has made: a flight whose `claimNumber` is greater was claimed
   * after this was read. A clock cannot tell that (whole milliseconds, and it can step back).
   */
  get claimsSoFar(): number {
    return this.claimed;
  }

  /**
   * Registers new loads for `keys` (replacing any older flight, so later callers join the newer
   * one). The caller settles every claim, then calls `release` once follow-up work (the cache
   * fill) is done. `freshJoinable: false` makes the loads joinable only by readers without a
   * freshness requirement (their answer may come from another replica's fill, whose database
   * read can predate the joiner's arrival). `owner`: the caller whose deliberate-read share the
   * loads wait for first. `deadline`: the one the loads run with (default: none). `generation`:
   * the one the keys were looked up under.
   */
  claim(keys: readonly string[], opts: { freshJoinable?: boolean; owner?: string; deadline?: number; generation?: bigint } = {}): { claims: Claim<T>[]; promises: Promise<T>[]; release(): void } {
    const owner = opts.owner;
    const deadline = opts.deadline ?? Number.POSITIVE_INFINITY;
    const claimNumber = ++this.claimed;
    const claims: Claim<T>[] = [];
    const promises: Promise<T>[] = [];
    const mine: Array<[string, Flight<T>]> = [];
    for (const key of keys) {
      let resolve!: (v: T) => void;
      let reject!: (e: unknown) => void;
      const promise = new Promise<T>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      // A joiner may give up (deadline) before the load settles; that must not be unhandled.
      promise.catch(() => undefined);
      const flight = { promise, owner, deadline, generation: opts.generation, claimNumber, leased: opts.freshJoinable === false };
      this.flights.set(key, flight);
      mine.push([key, flight]);
      claims.push({ key, resolve, reject });
      promises.push(promise);
    }
    const release = (): void => {
      // One more event-loop turn: a reader whose cache miss arrived in the same Redis reply batch
      // as the fill's reply may run after us and must still find the flight.
      setImmediate(() => {
        for (const [key, flight] of mine) if (this.flights.get(key) === flight) this.flights.delete(key);
      });
    };
    return { claims, promises, release };
  }

  get size(): number {
    return this.flights.size;
  }
}
