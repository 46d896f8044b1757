import { randomBytes } from 'node:crypto';
import type { CacheRedisClient } from './cache-redis';
import type { CacheScriptCommands } from './cache-scripts';
import { fillLeaseKey } from './key-map';

/**
 * Fill leases: one database read per cold key across every replica.
 *
 * Before loading a key that missed, a reader asks for the key's lease (`SET NX PX`). The holder
 * loads the row and fills the entry as usual (versioned-fill.lua); the others wait briefly and
 * read the fill instead of sending the same query. A lease is only a hint about work in progress,
 * never a fence: it does not guard an entry, every fill is still versioned, and a holder that dies
 * or is slow only costs the waiters the lease's lifetime (they then take the lease or load).
 * Keys: `fillLeaseKey(entry)`, outside the tracked prefixes, never an entry or a marker.
 */
export interface FillLease {
  readonly key: string;
  /** Random per acquisition: releasing checks it, so an expired holder cannot end a newer lease. */
  readonly token: string;
}

/** The lease of `entryKey` for `ttlMs`, or undefined when another reader holds it. */
export async function acquireFillLease(redis: CacheRedisClient, entryKey: string, ttlMs: number): Promise<FillLease | undefined> {
  const lease = { key: fillLeaseKey(entryKey), token: randomBytes(9).toString('base64url') };
  const ok = await redis.set(lease.key, lease.token, 'PX', ttlMs, 'NX');
  return ok === 'OK' ? lease : undefined;
}

/** Ends the lease if it is still ours (fill-lease-release.lua); it expires by itself otherwise. */
export async function releaseFillLease(redis: CacheRedisClient & CacheScriptCommands, lease: FillLease): Promise<void> {
  await redis.releaseFillLease(lease.key, lease.token);
}
