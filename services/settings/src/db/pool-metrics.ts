import type { Knex } from 'knex';

/** Which of the two pools (db.ts `DbPools`). */
export const DB_POOL_NAMES = ['read', 'write'] as const;
export type DbPoolName = (typeof DB_POOL_NAMES)[number];

/**
 * What is read here of the connection pool behind a knex instance (tarn's `Pool`: knex types
 * `client` as `any`, and tarn is knex's dependency, not ours).
 */
export interface ConnectionPool {
  /** Connections lent out to queries or transactions. */
  numUsed(): number;
  /** Open connections nobody holds. */
  numFree(): number;
  /** Callers waiting for a connection. */
  numPendingAcquires(): number;
  /** Connections being opened. */
  numPendingCreates(): number;
  on(event: 'acquireRequest' | 'acquireSuccess' | 'acquireFail', listener: (eventId: number) => void): unknown;
}

/** The pool of a knex instance made by createKnex (db.ts); it is created with the instance. */
export function connectionPoolOf(knex: Knex): ConnectionPool {
  const pool = (knex.client as { pool?: ConnectionPool }).pool;
  if (!pool) throw new Error('knex has no connection pool (made without a connection?)');
  return pool;
}

/** A pool's connections and waiters, as the gauges report them. */
export interface PoolOccupancy {
  readonly inUse: number;
  readonly idle: number;
  readonly opening: number;
  readonly waiting: number;
}

export function occupancyOf(pool: ConnectionPool): PoolOccupancy {
  return { inUse: pool.numUsed(), idle: pool.numFree(), opening: pool.numPendingCreates(), waiting: pool.numPendingAcquires() };
}

/**
 * Times every wait for a connection of `pool`, from the request to the connection (or to the
 * failure: a wait that ran into the acquire timeout is a wait too). A save that was slow under a
 * burst spent its time either here or in PostgreSQL: this tells the two apart.
 */
export function timeConnectionWaits(pool: ConnectionPool, observe: (seconds: number) => void, now: () => number = () => performance.now()): void {
  const requestedAt = new Map<number, number>();
  pool.on('acquireRequest', (eventId) => requestedAt.set(eventId, now()));
  const settled = (eventId: number): void => {
    const at = requestedAt.get(eventId);
    if (at === undefined) return;
    requestedAt.delete(eventId);
    observe((now() - at) / 1000);
  };
  pool.on('acquireSuccess', settled);
  pool.on('acquireFail', settled);
}
