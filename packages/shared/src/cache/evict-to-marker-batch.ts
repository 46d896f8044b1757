import type { Cluster, Redis } from 'ioredis';
import { loadScript } from './cache-scripts';

/**
 * evict-to-marker-batch.lua (the contract is at the top of the file): evict-to-marker for many
 * keys in one call, each key fenced by its own floor. Used by the invalidator, whose cost per
 * key was dominated by one script call per key.
 */
export const EVICT_TO_MARKER_BATCH_LUA = `${loadScript('cache-value-decode.lua')}\n${loadScript('evict-to-marker-batch.lua')}`;

/**
 * evict-to-marker-node-batch.lua: the same for keys of many slots of one cluster master. The
 * shebang must be the script's first line, before the shared decoder.
 */
export const EVICT_TO_MARKER_NODE_BATCH_LUA = `#!lua flags=allow-cross-slot-keys\n${loadScript('cache-value-decode.lua')}\n${loadScript('evict-to-marker-node-batch.lua')}`;

export interface EvictToMarkerBatchCommand {
  /** `keys[i]` is fenced at `floors[i]`; resolves to the number of markers written. */
  evictToMarkerBatch(numKeys: number, ...keysThenArgs: string[]): Promise<number>;
  /** Cluster: `routingKey` (one of the keys) picks the master; see evictToMarkerNodeBatchArgs. */
  evictToMarkerNodeBatch(routingKey: string, ...args: string[]): Promise<number>;
}

/** One marker to write: the key and the lowest version a later fill may store. */
export interface MarkerEviction {
  key: string;
  floor: bigint;
}

/** Registers the batch script on a client (EVALSHA with EVAL fallback, as withCacheScripts). */
export function withEvictToMarkerBatch<R extends Redis | Cluster>(redis: R): R & EvictToMarkerBatchCommand {
  redis.defineCommand('evictToMarkerBatch', { lua: EVICT_TO_MARKER_BATCH_LUA });
  redis.defineCommand('evictToMarkerNodeBatch', { numberOfKeys: 1, lua: EVICT_TO_MARKER_NODE_BATCH_LUA });
  return redis as R & EvictToMarkerBatchCommand;
}

/**
 * The arguments of one call: key count, the keys, the TTL, then the floors in key order. On a
 * Redis Cluster all `markers` must be in one slot (the caller groups them).
 */
export function evictToMarkerBatchArgs(markers: readonly MarkerEviction[], markerTtlMs: number): [number, ...string[]] {
  return [markers.length, ...markers.map((m) => m.key), String(markerTtlMs), ...markers.map((m) => m.floor.toString())];
}

/**
 * The arguments of one evict-to-marker-node-batch call: the routing key (the first marker's),
 * the TTL, the keys, then the floors in key order. All `markers` must be served by one master.
 */
export function evictToMarkerNodeBatchArgs(markers: readonly MarkerEviction[], markerTtlMs: number): [string, ...string[]] {
  return [markers[0]!.key, String(markerTtlMs), ...markers.map((m) => m.key), ...markers.map((m) => m.floor.toString())];
}
