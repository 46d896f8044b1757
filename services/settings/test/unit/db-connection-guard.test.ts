import type { Knex } from 'knex';
import { Db } from '../../src/db/db';
import { createSettingsMetrics } from '../../src/metrics';

/**
 * The guard that closes a connection PostgreSQL left unanswered past the deadline plus the grace
 * (unanswered-connection.ts), on a pool of one fake connection (pure logic: nothing reaches
 * PostgreSQL). Found by a review: armed outside the try that disarms it.
 */
describe('Db connection guard', () => {
  beforeEach(() => jest.useFakeTimers({ now: 1_000_000 }));
  afterEach(() => jest.useRealTimers());

  it('a statement that throws while it is built leaves no guard armed to cut the connection after it went back to the pool', async () => {
    const destroyed: unknown[] = [];
    // The one connection of the pool, as node-postgres holds its socket.
    const connection = { connection: { stream: { destroy: (e: unknown) => destroyed.push(e) } } };
    const pool = { client: { acquireConnection: () => Promise.resolve(connection), releaseConnection: () => Promise.resolve() } } as unknown as Knex;
    const metrics = createSettingsMetrics();
    const db = new Db({ read: pool, write: pool }, metrics, { statementCapMs: 2000, lockTimeoutMs: 250, lockWaitMax: 1, writePoolMax: 1, writeQueueMax: 0, answerGraceMs: 1000 });
    const broken = new Error('query builder failed');
    await expect(
      db.read('broken', Date.now() + 10_000, () => {
        throw broken;
      }),
    ).rejects.toBe(broken);
    // Past the statement cap and the grace: by now the connection serves another call.
    jest.advanceTimersByTime(5000);
    expect(destroyed).toEqual([]);
    expect((await metrics.dbConnectionsCut.get()).values.reduce((n, v) => n + v.value, 0)).toBe(0);
  });
});
