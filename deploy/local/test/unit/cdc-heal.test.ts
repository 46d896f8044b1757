import { healLocalCdcGaps } from '../../src/cdc-heal';
import { pgQuery } from '../../src/postgres';

// `npm run cdc:heal` against a stand-in for the stack's PostgreSQL: what it writes, not how.
jest.mock('../../src/postgres', () => ({ pgQuery: jest.fn() }));

const query = jest.mocked(pgQuery);

/** Answers pg_replication_slots with `slot`; the heal statement as if `pending` were unhealed. */
function database(slot: Array<Record<string, unknown>>, pending: string[]): string[] {
  const statements: string[] = [];
  query.mockReset();
  query.mockImplementation(async (_db, text) => {
    statements.push(text.trim().split(/\s+/).slice(0, 3).join(' '));
    if (text.includes('pg_replication_slots')) return slot;
    if (text.includes('UPDATE cdc_gap')) return pending.map((reason) => ({ reason, signalled: 1 }));
    return [];
  });
  return statements;
}

describe('local cdc:heal (healLocalCdcGaps with the slot check)', () => {
  it.each([[[]], [[{ wal_status: 'lost' }]]])('records a missing or lost slot (%j) and the reason, but inserts no signal: no connector streams from the slot to read it', async (slot) => {
    const statements = database(slot, ['offsets reset']);
    const progress: string[] = [];
    const r = await healLocalCdcGaps((m) => progress.push(m), { slot: 'settings_cache_slot', force: 'by hand' });
    expect(statements).toEqual(['SELECT wal_status FROM', 'INSERT INTO cdc_gap', 'INSERT INTO cdc_gap']);
    expect(statements).not.toContain('WITH pending AS');
    expect(r.signalId).toBeUndefined();
    expect(r.slotProblem).toMatch(/^replication slot settings_cache_slot (missing|lost its WAL)/);
    expect(progress.join('\n')).toMatch(/not healed/);
  });

  it('heals every recorded gap with one signal when the slot can stream', async () => {
    const statements = database([{ wal_status: 'reserved' }], ['offsets reset']);
    const r = await healLocalCdcGaps(() => undefined, { slot: 'settings_cache_slot' });
    expect(statements).toEqual(['SELECT wal_status FROM', 'WITH pending AS']);
    expect(r).toEqual({ gaps: ['offsets reset'], signalId: expect.stringMatching(/^[0-9a-f-]{36}$/) as unknown });
    expect(r.slotProblem).toBeUndefined();
  });
});
