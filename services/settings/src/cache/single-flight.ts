/**
 * Coalesces concurrent loads of one key in this process into one database query.
 *
 * A caller may only join a load that started at or after `notBefore`: a read-your-writes or
 * fully consistent read must not be answered by a query that began before the caller's own
 * request arrived (its snapshot could predate the write the caller already saw).
 */
interface Flight<T> {
  readonly promise: Promise<T>;
  readonly startedAt: number;
}

export interface Claim<T> {
  key: string;
  resolve(value: T): void;
  reject(err: unknown): void;
}

export class SingleFlight<T> {
  private readonly flights = new Map<string, Flight<T>>();

  constructor(private readonly now: () => number = Date.now) {}

  /** The in-flight load of `key` if it may be joined. */
  join(key: string, notBefore: number): Promise<T> | undefined {
    const flight = this.flights.get(key);
    return flight && flight.startedAt >= notBefore ? flight.promise : undefined;
  }

  /**
   * Registers new loads for `keys` (replacing any older flight, so later callers join the newer
   * one). The caller settles every claim, then calls `release` once follow-up work (the cache
   * fill) is done. `freshJoinable: false` makes the loads joinable only by readers without a
   * freshness requirement (their answer may come from another replica's fill, whose database
   * read can predate the joiner's arrival).
   */
  claim(keys: readonly string[], opts: { freshJoinable?: boolean } = {}): { claims: Claim<T>[]; promises: Promise<T>[]; release(): void } {
    const startedAt = opts.freshJoinable === false ? Number.NEGATIVE_INFINITY : this.now();
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
      const flight = { promise, startedAt };
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
