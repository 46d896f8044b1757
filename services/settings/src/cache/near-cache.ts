import { LRUCache } from 'lru-cache';
import { generationKey, KEY_SPACES, type KeySpace } from '@settings/shared';

/** An entry exactly as Redis held it (versioned-fill's `e|<version>|<generation>|<payload>`). */
export interface NearEntry {
  readonly space: KeySpace;
  readonly version: bigint;
  /** The key space generation stored in the entry, equal to the one read with it from Redis. */
  readonly generation: bigint;
  /**
   * The protobuf bytes of the message, served as they are and decoded at most once; held as
   * `nearPayload` keeps them (read them with `payloadBytes`).
   */
  readonly payload: Buffer | string;
  /** The decoded message, memoised by the first reader that needs it (one decoder per space). */
  decoded?: unknown;
}

/**
 * What one Redis read may install. Taken right before the read is sent: an install is refused
 * when an invalidation of its key, or a flush, arrived after this point — the push may travel
 * over the subscriber connection faster than the GET reply over the data connection (RESP2
 * redirect), and then the reply can be older than the invalidation that was already processed.
 */
export interface ReadTicket {
  readonly startSeq: number;
  readonly keys: readonly string[];
}

export interface NearCacheOptions {
  maxEntries: number;
  maxBytes: number;
  onEvict?: () => void;
  /** Entries dropped by invalidation: `key` (its Redis key changed), `generation`, `flush`. */
  onInvalidate?: (reason: 'key' | 'generation' | 'flush', count: number) => void;
  /** Installs refused because an invalidation arrived while their read was in flight. */
  onRefused?: () => void;
}

/**
 * Payloads below this are kept as one-byte (latin1) strings: V8 heap, a 16-byte header, moved
 * and freed by the GC. Each Buffer of its own costs ~450 bytes beyond its payload (ArrayBuffer,
 * view, backing store and its malloc), ~7 MiB of RSS for 10k entries in the Watch benchmark; a
 * copy into Node's shared 8 KiB pool would pin a slab shared with short-lived allocations per
 * long-lived entry (measured: 90 MB of ArrayBuffers for 10 MB of payload). Larger payloads
 * (Node never pools them) keep a Buffer of their own: the overhead is small beside them, and a
 * hit does not copy them again.
 */
const STRING_PAYLOAD_MAX_BYTES = 4096;

/**
 * What the near-cache keeps of a Redis reply's payload: a copy, never the reply's buffer, which
 * may be a slice of a larger socket chunk the LRU would keep alive.
 */
export function nearPayload(reply: Buffer): Buffer | string {
  if (reply.length < STRING_PAYLOAD_MAX_BYTES) return reply.toString('latin1');
  return Buffer.from(new Uint8Array(reply).buffer);
}

/** An entry's payload as bytes: a fresh copy (from Node's pool, short-lived) when it is held as a string. */
export function payloadBytes(e: NearEntry): Buffer {
  return typeof e.payload === 'string' ? Buffer.from(e.payload, 'latin1') : e.payload;
}

/** Rough fixed cost of one entry besides its payload and key: object, bigints, LRU node, payload header. */
const ENTRY_OVERHEAD_BYTES = 180;
/**
 * Heap bytes of a decoded message per payload byte: a decoded AccountSettings of 172 payload
 * bytes holds about 680 bytes of V8 heap (measured with --expose-gc over 20,000 copies).
 */
const DECODED_BYTES_PER_PAYLOAD_BYTE = 4;

/** What an entry costs in the byte bound: payload, its decoded copy (estimate), key, overhead. */
function entryBytes(e: NearEntry, key: string): number {
  return e.payload.length * (1 + (e.decoded === undefined ? 0 : DECODED_BYTES_PER_PAYLOAD_BYTE)) + key.length * 2 + ENTRY_OVERHEAD_BYTES;
}

/**
 * The in-process near-cache (L1) of cache entries and key-space generations, kept coherent by
 * Redis' server-assisted client-side caching (invalidation-tracking.ts calls `invalidate` and
 * `flush`). It never holds anything Redis does not hold: values are installed only from Redis
 * replies, under the read-ticket rule above, and only while tracking is on; everything is
 * dropped the moment tracking stops. Bounded by entries and bytes (LRU).
 */
export class NearCache {
  private readonly entries: LRUCache<string, NearEntry>;
  private readonly generations = new Map<KeySpace, bigint>();
  private tracking = false;
  /** Increases on every invalidation and flush; tickets compare against it. */
  private seq = 0;
  private flushedAt = 0;
  /** Keys with a read in flight: how many, and the seq of the last invalidation seen meanwhile. */
  private readonly inFlight = new Map<string, { count: number; invalidatedAt: number }>();
  private readonly changeWaiters = new Map<string, Set<() => void>>();

  constructor(private readonly opts: NearCacheOptions) {
    this.entries = new LRUCache<string, NearEntry>({
      max: opts.maxEntries,
      maxSize: opts.maxBytes,
      sizeCalculation: entryBytes,
      dispose: (_e, _k, reason) => {
        if (reason === 'evict') opts.onEvict?.();
      },
    });
  }

  /** True while Redis tracks our keys for us: only then may anything be read or installed. */
  get usable(): boolean {
    return this.tracking;
  }

  get size(): { entries: number; bytes: number } {
    return { entries: this.entries.size, bytes: this.entries.calculatedSize };
  }

  /**
   * Tracking (re)established or lost. Both drop everything: after a loss invalidations may have
   * been missed; after a re-establishment, reads that started before it must not install.
   */
  setTracking(on: boolean): void {
    this.flush();
    this.tracking = on;
  }

  /** The entry of `key`, only while tracking and only under the space's current generation. */
  get(space: KeySpace, key: string): NearEntry | undefined {
    if (!this.tracking) return undefined;
    const generation = this.generations.get(space);
    if (generation === undefined) return undefined;
    const entry = this.entries.get(key);
    return entry && entry.generation === generation ? entry : undefined;
  }

  /**
   * The space's generation as Redis last reported it, as served (with this release's payload
   * format folded in, payload-generation.ts), only while tracking: a change is pushed.
   */
  generation(space: KeySpace): bigint | undefined {
    return this.tracking ? this.generations.get(space) : undefined;
  }

  beginRead(keys: readonly string[]): ReadTicket {
    for (const key of keys) {
      const f = this.inFlight.get(key);
      if (f) f.count += 1;
      else this.inFlight.set(key, { count: 1, invalidatedAt: 0 });
    }
    return { startSeq: this.seq, keys };
  }

  endRead(ticket: ReadTicket): void {
    for (const key of ticket.keys) {
      const f = this.inFlight.get(key);
      if (!f) continue;
      f.count -= 1;
      if (f.count <= 0) this.inFlight.delete(key);
    }
  }

  /** Installs what a read returned for the space's generation key (false when refused). */
  installGeneration(ticket: ReadTicket, space: KeySpace, generation: bigint): boolean {
    if (!this.mayInstall(ticket, generationKey(space))) return false;
    const current = this.generations.get(space);
    if (current !== undefined && current !== generation) {
      // A read saw the new generation before its push: the space goes now, counted as the push would be.
      const dropped = this.dropSpace(space);
      if (dropped > 0) this.opts.onInvalidate?.('generation', dropped);
    }
    this.generations.set(space, generation);
    return true;
  }

  /** Installs an entry a read returned (false when refused). */
  install(ticket: ReadTicket, key: string, entry: NearEntry): boolean {
    if (!this.mayInstall(ticket, key)) return false;
    this.entries.set(key, entry);
    return true;
  }

  /** Redis says these keys changed (fill, marker, expiry, generation). */
  invalidate(keys: readonly string[]): void {
    this.seq += 1;
    let dropped = 0;
    let spaceDropped = 0;
    for (const key of keys) {
      const f = this.inFlight.get(key);
      if (f) f.invalidatedAt = this.seq;
      if (this.entries.delete(key)) dropped += 1;
      const space = spaceOfGenerationKey(key);
      if (space) {
        this.generations.delete(space);
        spaceDropped += this.dropSpace(space);
      }
      this.notifyChange(key);
    }
    if (dropped > 0) this.opts.onInvalidate?.('key', dropped);
    if (spaceDropped > 0) this.opts.onInvalidate?.('generation', spaceDropped);
  }

  /** Everything may have changed (a flush message, or tracking lost or restarted). */
  flush(): void {
    this.seq += 1;
    this.flushedAt = this.seq;
    const dropped = this.entries.size;
    this.entries.clear();
    this.generations.clear();
    if (dropped > 0) this.opts.onInvalidate?.('flush', dropped);
    for (const key of [...this.changeWaiters.keys()]) this.notifyChange(key);
  }

  /**
   * Resolves when Redis reports a change of `key` (or a flush), or after `ms`: lets a reader
   * waiting for another replica's fill (fill-lease-wait.ts) wake on the fill itself.
   */
  waitForChange(key: string, ms: number): Promise<void> {
    return new Promise((resolve) => {
      let waiters = this.changeWaiters.get(key);
      if (!waiters) this.changeWaiters.set(key, (waiters = new Set()));
      const done = (): void => {
        clearTimeout(timer);
        const set = this.changeWaiters.get(key);
        set?.delete(done);
        if (set?.size === 0) this.changeWaiters.delete(key);
        resolve();
      };
      const timer = setTimeout(done, ms);
      waiters.add(done);
    });
  }

  private mayInstall(ticket: ReadTicket, key: string): boolean {
    if (!this.tracking) return false;
    const ok = ticket.startSeq >= this.flushedAt && (this.inFlight.get(key)?.invalidatedAt ?? 0) <= ticket.startSeq;
    if (!ok) this.opts.onRefused?.();
    return ok;
  }

  private dropSpace(space: KeySpace): number {
    let dropped = 0;
    for (const [key, entry] of this.entries.entries()) {
      if (entry.space === space) {
        this.entries.delete(key);
        dropped += 1;
      }
    }
    return dropped;
  }

  private notifyChange(key: string): void {
    const waiters = this.changeWaiters.get(key);
    if (waiters) for (const w of [...waiters]) w();
  }
}

const SPACE_OF_GENERATION_KEY = new Map((Object.keys(KEY_SPACES) as KeySpace[]).map((space) => [generationKey(space), space]));

function spaceOfGenerationKey(key: string): KeySpace | undefined {
  return SPACE_OF_GENERATION_KEY.get(key);
}
