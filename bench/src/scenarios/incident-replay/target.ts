import type Redis from 'ioredis';
import type { SettingsServiceClient } from '@settings/api';
import { round as roundTo } from '../../stats';
import type { PoolWaitSummary } from './result';

/** What the bulk job reports about its UPDATE. */
export interface BulkResult {
  count: number;
  committedAt: number;
  /** `account_id<TAB>version` lines of every updated row. */
  file: string;
}

/** One design under test (a baseline cache, or this system), as the replay drives it. */
export interface Target {
  clients: SettingsServiceClient[];
  /** Cumulative app-side counters (Redis commands, PG queries, cache hits/lookups), from one reading of each process. */
  appCounters(): Promise<AppCounters>;
  /**
   * Runs the bulk UPDATE (and whatever the variant does after it). `committedAt`: when the
   * executor saw the UPDATE return, before any app-side invalidation.
   */
  bulk(likePattern: string, displayName: string, outFile: string): Promise<BulkResult>;
  /** The version the cache holds for each account (absent: not cached, or a marker). */
  cachedVersions(ids: string[]): Promise<Map<string, number>>;
  /**
   * Waits until every committed change has been applied to the cache (this system: Debezium
   * drained and the invalidator's group committed at the topic ends); resolves at once for the
   * app-code baselines, whose invalidation finished with the write.
   */
  settle(timeoutMs: number): Promise<void>;
  stop(): Promise<void>;
}

export interface AppCounters {
  redis: number;
  pg: number;
  hits: number;
  lookups: number;
  /**
   * This system only: its waits for a write connection so far (settings_db_pool_wait_seconds
   * {pool="write"}), read from the same scrape: whether a slow save spent its time queueing for
   * the pool or in PostgreSQL.
   */
  writePoolWaits?: PoolWaitTally;
}

/** Cumulative waits for a pool connection: how many, their total, and how many ended within `withinSeconds`. */
export interface PoolWaitTally {
  count: number;
  sumSeconds: number;
  within: number;
  withinSeconds: number;
}

/**
 * The version the cache holds per id, read with MGET 1,000 keys at a time; `versionOf` reads a
 * cached value's version (undefined: not an entry, e.g. an eviction marker).
 */
export async function cachedVersionsOf(redis: Redis, ids: string[], keyOf: (id: string) => string, versionOf: (value: Buffer) => number | undefined): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (let i = 0; i < ids.length; i += 1000) {
    const chunk = ids.slice(i, i + 1000);
    const vals = await redis.mgetBuffer(...chunk.map(keyOf));
    vals.forEach((b, j) => {
      const v = b ? versionOf(b) : undefined;
      if (v !== undefined) out.set(chunk[j]!, v);
    });
  }
  return out;
}

/** The waits for a write connection between two readings of the tally. */
export function poolWaitsBetween(before: PoolWaitTally, after: PoolWaitTally): PoolWaitSummary {
  const waits = after.count - before.count;
  const longer = waits - (after.within - before.within);
  return {
    waits,
    meanMs: waits > 0 ? roundTo(((after.sumSeconds - before.sumSeconds) * 1000) / waits, 1) : Number.NaN,
    longerThanMs: after.withinSeconds * 1000,
    longerShare: waits > 0 ? roundTo(longer / waits, 3) : Number.NaN,
  };
}
