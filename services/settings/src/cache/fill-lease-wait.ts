import { acquireFillLease, releaseFillLease, type CacheRedis, type FillLease, type Logger } from '@settings/shared';
import type { NearCache } from './near-cache';

export interface FillLeaseOptions {
  /** Lifetime of a lease: how long the others wait for a holder that never fills. */
  ttlMs: number;
  /** How often a waiter re-reads Redis when no invalidation push woke it earlier. */
  pollMs: number;
}

export type FillLeaseResult = 'acquired' | 'filled_by_other' | 'gave_up' | 'redis_error';

export interface LeaseWaitDeps<V> {
  redis: CacheRedis;
  log: Logger;
  /** Wakes a waiter on the invalidation push of the fill itself (absent: polling only). */
  near?: NearCache;
  now: () => number;
  /** Entries Redis holds now under the current generation; undefined when Redis failed. */
  readFilled(keys: readonly string[]): Promise<Map<string, V> | undefined>;
  count(result: FillLeaseResult): void;
  /**
   * True once the read that asked has ended (its load failed): no further lease is taken, and
   * one taken in a round under way is released at once, so no other replica waits out a lease
   * nobody will fill.
   */
  abandoned?: () => boolean;
}

export interface LeaseSplit<V> {
  /** Keys this reader loads itself (with its lease, or after giving up waiting). */
  load: string[];
  /** Leases to release after the fill. */
  leases: FillLease[];
  /** Keys another replica filled while we waited, with what it filled. */
  filled: Map<string, V>;
  /**
   * The keys still waited for, decided later (absent: none left). The keys decided so far are
   * handed over first: a reader holding the lease of one key loads it at once instead of after
   * its other keys' waits (the lease would run out meanwhile, and the other replicas waiting on
   * it would wait a whole lease lifetime and then load it again).
   */
  rest?: Promise<LeaseSplit<V>>;
}

/**
 * Takes the fill lease of each cold key (`SET NX PX`). A key whose lease another replica holds
 * is waited for: re-read from Redis when its invalidation push arrives (the fill) or every
 * `pollMs`, and its lease asked for again each round, so when a holder dies or stalls past the
 * lease one waiter takes over. Waiting ends at the call's deadline or after four lease lifetimes;
 * then the reader loads itself. A Redis failure ends every wait at once (load without a lease).
 * Each round that decides some keys while others are still waited for returns the decided ones
 * with the rest as `rest`.
 *
 * Each round asks for the leases, then reads the entries. On one Redis the read is the shared
 * MGET of coalesced-mget.ts, dispatched in the check phase, after auto-pipelining wrote the SET
 * NXs (next tick) on the same connection, so the MGET sees Redis after our lease request: a
 * holder that filled and released just before we missed is seen by its fill, not loaded again.
 * On a Redis Cluster the entries' MGET is written at once (MGET is not auto-pipelined) and may
 * reach the node before the SET NX: such a holder's key is then loaded again, one extra read
 * and never a stale one (the fill is versioned). A lease we got for a key that turns out filled
 * is released at once.
 */
export function leaseOrWait<V>(keys: readonly string[], deadline: number, opts: FillLeaseOptions, deps: LeaseWaitDeps<V>): Promise<LeaseSplit<V>> {
  return decide(keys, Math.min(deadline, deps.now() + 4 * opts.ttlMs), false, opts, deps);
}

async function decide<V>(keys: readonly string[], giveUpAt: number, waitedBefore: boolean, opts: FillLeaseOptions, deps: LeaseWaitDeps<V>): Promise<LeaseSplit<V>> {
  let waiting = [...keys];
  let waited = waitedBefore;
  for (;;) {
    const split: LeaseSplit<V> = { load: [], leases: [], filled: new Map() };
    if (deps.abandoned?.()) return split;
    // Leases first; on one Redis the MGET follows them on the wire (see above).
    const asked = Promise.all(waiting.map((k) => acquireFillLease(deps.redis, k, opts.ttlMs).then((lease) => ({ k, lease }), () => ({ k, lease: null }))));
    const read = deps.readFilled(waiting);
    const [tries, found] = await Promise.all([asked, read]);
    if (deps.abandoned?.()) {
      releaseLeases(deps.redis, tries.flatMap(({ lease }) => (lease ? [lease] : [])), deps.log);
      return split;
    }
    const still: string[] = [];
    for (const { k, lease } of tries) {
      const filled = found?.get(k);
      if (filled !== undefined) {
        split.filled.set(k, filled);
        if (lease) releaseLeases(deps.redis, [lease], deps.log);
        deps.count('filled_by_other');
      } else if (lease === undefined && found) {
        still.push(k);
      } else {
        // Ours to load: we hold the lease, or Redis failed (the lease request or the read).
        split.load.push(k);
        if (lease) split.leases.push(lease);
        deps.count(lease && found ? 'acquired' : 'redis_error');
      }
    }
    if (still.length === 0) return split;
    if (waited && deps.now() >= giveUpAt) return giveUp(split, still, deps);
    if (split.load.length > 0 || split.filled.size > 0) {
      split.rest = pause(still, giveUpAt, opts, deps).then(() => decide(still, giveUpAt, true, opts, deps));
      return split;
    }
    waited = true;
    await pause(still, giveUpAt, opts, deps);
    waiting = still;
  }
}

/** Until one of `keys` changes in Redis or a poll interval passes, never past the give-up time. */
function pause<V>(keys: readonly string[], giveUpAt: number, opts: FillLeaseOptions, deps: LeaseWaitDeps<V>): Promise<unknown> {
  const ms = Math.max(1, Math.min(opts.pollMs, giveUpAt - deps.now()));
  return Promise.race(keys.map((k) => (deps.near?.usable ? deps.near.waitForChange(k, ms) : sleep(ms))));
}

function giveUp<V>(split: LeaseSplit<V>, keys: readonly string[], deps: LeaseWaitDeps<V>): LeaseSplit<V> {
  for (const k of keys) {
    split.load.push(k);
    deps.count('gave_up');
  }
  return split;
}

/** Fire and forget: an unreleased lease only makes the next cold reader of its key wait out its TTL. */
export function releaseLeases(redis: CacheRedis, leases: readonly FillLease[], log: Logger): void {
  for (const lease of leases) releaseFillLease(redis, lease).catch((err: unknown) => log.debug({ err, key: lease.key }, 'fill lease release failed'));
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
