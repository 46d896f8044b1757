import type { Knex } from 'knex';
import { Db } from '../../src/db/db';
import { createSettingsMetrics } from '../../src/metrics';

/**
 * Db.write's lock budget against write admission, with a write pool whose one transaction never
 * ends (pure logic: nothing reaches PostgreSQL). A save of a held row starts its countdown before
 * admission; refused there, it must not count a row-lock timeout later.
 */
describe('Db.write lock budget', () => {
  beforeEach(() => jest.useFakeTimers({ now: 1_000_000 }));
  afterEach(() => jest.useRealTimers());

  it('a save of a held row refused by write admission counts no row-lock timeout afterwards', async () => {
    const write = { client: { acquireConnection: () => Promise.resolve({}), releaseConnection: () => Promise.resolve() }, transaction: () => new Promise(() => undefined) } as unknown as Knex;
    const metrics = createSettingsMetrics();
    const db = new Db({ read: write, write }, metrics, { statementCapMs: 10_000, lockTimeoutMs: 250, lockWaitMax: 1, writePoolMax: 1, writeQueueMax: 0, answerGraceMs: 1000 });
    // The only place in admission, held.
    void db.write('holder', Date.now() + 10_000, () => Promise.resolve()).catch(() => undefined);
    await expect(db.write('held-row', Date.now() + 10_000, () => Promise.resolve(), Date.now(), true)).rejects.toMatchObject({ code: 'LOAD_SHED' });
    jest.advanceTimersByTime(1000);
    expect((await metrics.rowLockTimeouts.get()).values).toEqual([]);
  });

  it('a save whose lock budget ran out before its lock statement is not counted as waiting for a lock (nothing was sent)', async () => {
    jest.useRealTimers();
    const trx = { raw: () => Promise.resolve() };
    const write = {
      client: { acquireConnection: () => Promise.resolve({}), releaseConnection: () => Promise.resolve() },
      transaction: (body: (t: unknown) => Promise<unknown>) => body(trx),
    } as unknown as Knex;
    const metrics = createSettingsMetrics();
    const db = new Db({ read: write, write }, metrics, { statementCapMs: 10_000, lockTimeoutMs: 250, lockWaitMax: 1, writePoolMax: 1, writeQueueMax: 1, answerGraceMs: 1000 });
    let sent = false;
    // It first asked for a write connection 300 ms ago: its 250 ms lock budget is spent.
    const save = db.write(
      'spent-budget',
      Date.now() + 10_000,
      async (_trx, waits) =>
        waits.enter()!.bounded(async () => {
          sent = true;
        }),
      Date.now() - 300,
    );
    await expect(save).rejects.toMatchObject({ code: 'ROW_LOCKED' });
    await new Promise((r) => setImmediate(r));
    expect(sent).toBe(false);
    // Write admission learnt no lock hold from it (a few ms that would pace the real lock waits).
    expect(db['writeAdmission']['lockHoldMs']).toBeUndefined();
  });
});
