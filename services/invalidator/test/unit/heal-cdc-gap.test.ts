import { ConfigError } from '@settings/shared';
import { describeCdcHeal, dropLostSlot, loadHealCdcGapConfig, runCdcHeal } from '../../src/admin/cdc-heal';

type SqlRunner = Parameters<typeof runCdcHeal>[0];

const URL_HEAL = 'postgres://debezium_settings@settings-postgres:5432/settings?sslmode=verify-full';
const URL_AUDITOR = 'postgres://settings_auditor:x@settings-postgres:5432/settings';

describe('heal-cdc-gap configuration', () => {
  it('prefers HEAL_DATABASE_URL over the pod’s DATABASE_URL, defaults the slot, joins the reason', () => {
    expect(loadHealCdcGapConfig({ HEAL_DATABASE_URL: URL_HEAL, DATABASE_URL: URL_AUDITOR }, ['slot', 'recreated'])).toEqual({
      databaseUrl: URL_HEAL,
      slot: 'settings_cache_slot',
      reason: 'slot recreated',
      LOG_LEVEL: 'info',
    });
  });

  it('falls back to DATABASE_URL, takes REPLICATION_SLOT, and has no reason without arguments', () => {
    const c = loadHealCdcGapConfig({ DATABASE_URL: URL_HEAL, REPLICATION_SLOT: 'other_slot' }, ['  ']);
    expect(c).toEqual({ databaseUrl: URL_HEAL, slot: 'other_slot', LOG_LEVEL: 'info' });
  });

  it('requires a URL outside the local stack and rejects a non-PostgreSQL one', () => {
    expect(() => loadHealCdcGapConfig({}, [])).toThrow(ConfigError);
    expect(() => loadHealCdcGapConfig({}, [])).toThrow(/HEAL_DATABASE_URL \(or DATABASE_URL\) is required/);
    expect(() => loadHealCdcGapConfig({ HEAL_DATABASE_URL: 'redis://x:6379' }, [])).toThrow(/HEAL_DATABASE_URL=.*postgres/);
  });

  it('uses the local stack’s database with SETTINGS_LOCAL_STACK=1', () => {
    expect(loadHealCdcGapConfig({ SETTINGS_LOCAL_STACK: '1' }, []).databaseUrl).toMatch(/^postgres(ql)?:/);
  });
});

/** Answers pg_replication_slots with `slot`, cdc_gap's heal with the gaps recorded so far. */
function fakeDb(slot: Array<Record<string, unknown>>, pending: string[] = []): { sql: SqlRunner; statements: string[] } {
  const statements: string[] = [];
  const gaps = [...pending];
  const sql: SqlRunner = async (text, params) => {
    statements.push(text.trim().split(/\s+/).slice(0, 3).join(' '));
    if (text.includes('pg_replication_slots')) return slot;
    if (text.startsWith('INSERT INTO cdc_gap')) gaps.push(String(params![0]));
    if (text.includes('UPDATE cdc_gap')) return gaps.splice(0).map((reason) => ({ reason, signalled: 1 }));
    return [];
  };
  return { sql, statements };
}

describe('runCdcHeal', () => {
  it('checks the slot, records the reason, then signals one snapshot for every gap', async () => {
    const db = fakeDb([{ wal_status: 'reserved' }], ['offsets reset']);
    const report = await runCdcHeal(db.sql, { slot: 'settings_cache_slot', reason: 'failover' });
    expect(db.statements).toEqual(['SELECT wal_status FROM', 'INSERT INTO cdc_gap', 'WITH pending AS']);
    expect(report.gaps).toEqual(['offsets reset', 'failover']);
    expect(report.signalId).toMatch(/^[0-9a-f-]{36}$/);
    expect(describeCdcHeal(report)).toMatch(/^healed 2 gap\(s\) \(offsets reset; failover\): incremental snapshot/);
  });

  it('does nothing without a gap', async () => {
    const db = fakeDb([{ wal_status: 'reserved' }]);
    const report = await runCdcHeal(db.sql, { slot: 'settings_cache_slot' });
    expect(report).toEqual({ gaps: [] });
    expect(describeCdcHeal(report)).toMatch(/nothing to do/);
  });

  it('records a missing slot as a gap and heals nothing until a connector streams from a slot', async () => {
    const db = fakeDb([]);
    const report = await runCdcHeal(db.sql, { slot: 'settings_cache_slot', reason: 'failover' });
    expect(db.statements).toEqual(['SELECT wal_status FROM', 'INSERT INTO cdc_gap', 'INSERT INTO cdc_gap']);
    expect(report).toEqual({ gaps: [], slotProblem: 'replication slot settings_cache_slot missing' });
    expect(describeCdcHeal(report)).toMatch(/not healed/);
  });
});

// heal-after-failover.sh runs it with the connector stopped, just before it resets the offsets:
// PostgreSQL invalidated the slot (max_slot_wal_keep_size), which can never stream again and
// which Debezium does not recreate; and the reset about to happen is a gap of its own.
describe('heal-cdc-gap --drop-lost-slot', () => {
  it('is a mode of its own, optionally with the reason of the offsets reset that follows', () => {
    expect(loadHealCdcGapConfig({ HEAL_DATABASE_URL: URL_HEAL }, ['--drop-lost-slot'])).toEqual({ databaseUrl: URL_HEAL, slot: 'settings_cache_slot', dropLostSlot: true, LOG_LEVEL: 'info' });
    expect(loadHealCdcGapConfig({ HEAL_DATABASE_URL: URL_HEAL }, ['--drop-lost-slot', 'offsets', 'reset'])).toEqual({ databaseUrl: URL_HEAL, slot: 'settings_cache_slot', reason: 'offsets reset', dropLostSlot: true, LOG_LEVEL: 'info' });
  });

  it.each([[[{ wal_status: 'reserved' }]], [[{ wal_status: 'lost' }]], [[]]])('records the reason of the coming offsets reset first, whatever the slot (%j), and heals nothing', async (rows) => {
    const db = fakeDb(rows);
    expect(await dropLostSlot(db.sql, 'settings_cache_slot', 'offsets reset')).toMatch(/gap recorded: offsets reset$/);
    expect(db.statements.slice(0, 2)).toEqual(['INSERT INTO cdc_gap', 'SELECT wal_status FROM']);
    expect(db.statements).not.toContain('WITH pending AS');
  });

  it('records the gap and drops a slot whose WAL is lost', async () => {
    const db = fakeDb([{ wal_status: 'lost' }]);
    expect(await dropLostSlot(db.sql, 'settings_cache_slot')).toMatch(/dropped/);
    expect(db.statements).toEqual(['SELECT wal_status FROM', 'INSERT INTO cdc_gap', 'SELECT pg_drop_replication_slot($1)']);
  });

  it.each([[[{ wal_status: 'reserved' }]], [[{ wal_status: 'unreserved' }]], [[]]])('keeps a slot that can still stream, or a missing one (%j)', async (rows) => {
    const db = fakeDb(rows);
    expect(await dropLostSlot(db.sql, 'settings_cache_slot')).toMatch(/kept$/);
    expect(db.statements).toEqual(['SELECT wal_status FROM']);
  });
});
