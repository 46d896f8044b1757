import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Cluster, Redis } from 'ioredis';

/**
 * Typed wrappers of the cache's Lua scripts. The `.lua` files are the source of truth (each
 * starts with its contract); they are loaded from beside this module, or from `src/` when
 * running compiled code from `dist/` (tsc does not copy non-TS files).
 */
export function loadScript(file: string): string {
  for (const dir of [__dirname, join(__dirname, '../../../src/cache')]) {
    const path = join(dir, file);
    if (existsSync(path)) return readFileSync(path, 'utf8');
  }
  throw new Error(`Lua script ${file} not found next to ${__dirname}`);
}

// Both scripts decode values with the same function, defined once in cache-value-decode.lua.
const DECODE_LUA = loadScript('cache-value-decode.lua');
export const VERSIONED_FILL_LUA = `${DECODE_LUA}\n${loadScript('versioned-fill.lua')}`;
export const EVICT_TO_MARKER_LUA = `${DECODE_LUA}\n${loadScript('evict-to-marker.lua')}`;
export const FILL_LEASE_RELEASE_LUA = loadScript('fill-lease-release.lua');

export interface CacheScriptCommands {
  /**
   * versioned-fill.lua; `markerTtlMs` is the fence it leaves when an entry of another generation
   * refuses the fill; `yieldToSameVersion` '1': an entry of another generation at the same version
   * refuses it too (Watch re-reads; see the script).
   */
  versionedFill(key: string, version: string, generation: string, ttlMs: number, payload: Buffer, markerTtlMs: number, yieldToSameVersion?: '1'): Promise<number>;
  evictToMarker(key: string, floor: string, markerTtlMs: number): Promise<number>;
  /** fill-lease-release.lua: deletes the lease key only while it holds `token`. */
  releaseFillLease(leaseKey: string, token: string): Promise<number>;
}

/**
 * Registers the scripts on a client; ioredis sends EVALSHA and falls back to EVAL after a
 * Redis restart flushed the script cache, so no explicit SCRIPT LOAD bookkeeping is needed.
 */
export function withCacheScripts<R extends Redis | Cluster>(redis: R): R & CacheScriptCommands {
  redis.defineCommand('versionedFill', { numberOfKeys: 1, lua: VERSIONED_FILL_LUA });
  redis.defineCommand('evictToMarker', { numberOfKeys: 1, lua: EVICT_TO_MARKER_LUA });
  redis.defineCommand('releaseFillLease', { numberOfKeys: 1, lua: FILL_LEASE_RELEASE_LUA });
  return redis as R & CacheScriptCommands;
}
