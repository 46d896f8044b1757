import { EventEmitter } from 'node:events';
import { createSettingsMetrics } from '../../src/metrics';
import { occupancyOf, timeConnectionWaits, type ConnectionPool } from '../../src/db/pool-metrics';

/** A pool that only says what it is told, with tarn's acquire events. */
class ScriptedPool extends EventEmitter implements ConnectionPool {
  used = 0;
  free = 0;
  creating = 0;
  pending = 0;
  numUsed = (): number => this.used;
  numFree = (): number => this.free;
  numPendingCreates = (): number => this.creating;
  numPendingAcquires = (): number => this.pending;
}

describe('connection waits of a pool', () => {
  it('are timed from the request to the connection, and to the failure of one that timed out', () => {
    const pool = new ScriptedPool();
    let clock = 1000;
    const waits: number[] = [];
    timeConnectionWaits(pool, (s) => waits.push(s), () => clock);
    pool.emit('acquireRequest', 1);
    pool.emit('acquireRequest', 2);
    clock += 40;
    pool.emit('acquireSuccess', 1);
    clock += 2000;
    pool.emit('acquireFail', 2);
    expect(waits).toEqual([0.04, 2.04]);
  });

  it('forget a request once it is settled, so a second settlement of the same id is not counted', () => {
    const pool = new ScriptedPool();
    const waits: number[] = [];
    timeConnectionWaits(pool, (s) => waits.push(s), () => 0);
    pool.emit('acquireRequest', 7);
    pool.emit('acquireSuccess', 7);
    pool.emit('acquireFail', 7);
    pool.emit('acquireSuccess', 8);
    expect(waits).toHaveLength(1);
  });
});

describe('the pool gauges', () => {
  it('report each registered pool by state at scrape time', async () => {
    const metrics = createSettingsMetrics();
    const pool = new ScriptedPool();
    metrics.dbPools.set('write', () => occupancyOf(pool));
    Object.assign(pool, { used: 5, free: 0, creating: 1, pending: 7 });
    const text = await metrics.registry.metrics();
    expect(text).toContain('settings_db_pool_connections{pool="write",state="in_use"} 5');
    expect(text).toContain('settings_db_pool_connections{pool="write",state="idle"} 0');
    expect(text).toContain('settings_db_pool_connections{pool="write",state="opening"} 1');
    expect(text).toContain('settings_db_pool_waiting{pool="write"} 7');
  });
});
