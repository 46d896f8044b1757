/** The one command this needs from the cache client. */
export interface MgetClient {
  mgetBuffer(...keys: string[]): Promise<Array<Buffer | null>>;
}

interface Waiter {
  readonly keys: readonly string[];
  resolve(values: Array<Buffer | null>): void;
  reject(err: unknown): void;
}

/**
 * One MGET for the cache lookups of every call that arrived in one turn of the event loop.
 *
 * A saturated replica answers thousands of cache reads a second, and grpc-js hands each call to
 * its handler in a callback of its own, so auto-pipelining (which merges commands sent before the
 * next `process.nextTick`) still sends one MGET per call: a Command object, a write and a reply
 * to parse each. Lookups are queued instead and sent together in the check phase (`setImmediate`),
 * which runs right after the poll phase that delivered the calls: a lone call waits for nothing,
 * calls that arrived together share one command, and a key several of them read (the space's
 * generation, a hot account) is named once in it.
 *
 * What a lookup sees does not change: its keys are read by one MGET, at one instant, after the
 * caller took its near-cache ticket (near-cache.ts), so an invalidation that arrives before the
 * reply still refuses the install; a failed MGET fails every lookup in it.
 */
export class CoalescedMget {
  private queued: Waiter[] = [];
  private queuedKeys = 0;
  private scheduled = false;

  /** `maxKeys` bounds one MGET (a larger batch is sent at once, the rest waits for the next). */
  constructor(
    private readonly redis: MgetClient,
    private readonly maxKeys = 1024,
  ) {}

  /** The values of `keys`, in order (null where Redis has none). */
  mget(keys: readonly string[]): Promise<Array<Buffer | null>> {
    return new Promise((resolve, reject) => {
      this.queued.push({ keys, resolve, reject });
      this.queuedKeys += keys.length;
      if (this.queuedKeys >= this.maxKeys) this.flush();
      else if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => {
          this.scheduled = false;
          this.flush();
        });
      }
    });
  }

  private flush(): void {
    const batch = this.queued;
    if (batch.length === 0) return;
    this.queued = [];
    this.queuedKeys = 0;
    if (batch.length === 1) {
      const [only] = batch as [Waiter];
      this.redis.mgetBuffer(...only.keys).then(only.resolve, only.reject);
      return;
    }
    // Each distinct key once; every waiter reads its keys' positions in the one reply.
    const position = new Map<string, number>();
    const distinct: string[] = [];
    const positions = batch.map((w) =>
      w.keys.map((key) => {
        let p = position.get(key);
        if (p === undefined) {
          p = distinct.push(key) - 1;
          position.set(key, p);
        }
        return p;
      }),
    );
    this.redis.mgetBuffer(...distinct).then(
      (values) => batch.forEach((w, i) => w.resolve(positions[i]!.map((p) => values[p] ?? null))),
      (err: unknown) => batch.forEach((w) => w.reject(err)),
    );
  }
}
