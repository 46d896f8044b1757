import type { ChangeEvent, ChangeOp, Row } from '@settings/shared';
import { planEvictions, UnplannableEventError } from '../../src/eviction/eviction-plan';

function event(table: string, op: ChangeOp, before: Row | null, after: Row | null): ChangeEvent {
  return { op, before, after, ts_ms: 2, source: { connector: 'postgresql', db: 'settings', schema: 'public', table, ts_ms: 1, txId: 7, lsn: 100 } };
}

describe('planEvictions', () => {
  it('an update evicts the row key with the new version as floor', () => {
    const plan = planEvictions(event('account_settings', 'u', null, { account_id: 'acme', version: 42 }));
    expect(plan).toEqual({ markers: [{ key: 'v1:{acct:acme}:account-settings', floor: 42n }], generationBumps: [] });
  });

  it('an update that moves a row to another key evicts the old key too, fenced at the new version', () => {
    const plan = planEvictions(event('doctor_settings', 'u', { account_id: 'acme', doctor_id: 'old', version: 5 }, { account_id: 'acme', doctor_id: 'new', version: 9 }));
    expect(plan.markers).toEqual([
      { key: 'v1:{acct:acme}:doctor-settings:new', floor: 9n },
      { key: 'v1:{acct:acme}:doctor-settings:old', floor: 9n },
    ]);
  });

  it('a delete fences one above the deleted version so the deleted row can never be filled back', () => {
    const plan = planEvictions(event('staff_permissions', 'd', { account_id: 'acme', staff_id: 'nurse-1', version: 77 }, null));
    expect(plan.markers).toEqual([
      { key: 'v1:{acct:acme}:staff-permission:nurse-1', floor: 78n },
      { key: 'v1:{acct:acme}:staff-permission-list', floor: 78n },
    ]);
  });

  it('a staff permission change also evicts the account staff list', () => {
    const keys = planEvictions(event('staff_permissions', 'c', null, { account_id: 'acme', staff_id: 's1', version: 3 })).markers.map((m) => m.key);
    expect(keys).toContain('v1:{acct:acme}:staff-permission-list');
  });

  it('a snapshot read is planned like an insert (harmless when the cache is already fresh)', () => {
    expect(planEvictions(event('onpatient_settings', 'r', null, { account_id: 'acme', version: 1 })).markers).toEqual([{ key: 'v1:{acct:acme}:onpatient-settings', floor: 1n }]);
  });

  it('a truncate bumps the generation of every key space the table feeds', () => {
    expect(planEvictions(event('staff_permissions', 't', null, null))).toEqual({ markers: [], generationBumps: ['staff-permission', 'staff-permission-list'] });
  });

  it.each([
    ['a table outside the key map', event('users', 'c', null, { id: 1, version: 1 }), /not in the key map/],
    ['a row without a version', event('account_settings', 'c', null, { account_id: 'acme' }), /after.version/],
    ['an id that could forge another key', event('account_settings', 'u', null, { account_id: 'acme}:x', version: 1 }), /account_id/],
    ['a negative version', event('account_settings', 'u', null, { account_id: 'acme', version: -1 }), /version/],
    // Versions come from settings_version_seq, which starts at 1. A 0 is a decoding fault
    // upstream (Debezium 3.6 reading a narrower pgoutput tuple by position after an incremental
    // snapshot fills the missing version with its default, deploy/debezium/README.md); as a
    // floor it would fence nothing, so the eviction would look applied and the entry stay stale.
    ['version 0 in after (no row ever has it)', event('doctor_settings', 'u', { account_id: 'acme', doctor_id: 'd1', version: 0 }, { account_id: 'acme', doctor_id: 'd1', version: 0 }), /after.version is 0/],
    ['version 0 in a delete’s before', event('doctor_settings', 'd', { account_id: 'acme', doctor_id: 'd1', version: 0 }, null), /before.version is 0/],
    // JSON.parse already rounded it: 2^53 + 1 arrives as 2^53, and a floor off by one fences nothing.
    ['a version beyond 2^53 (not exact as a JSON number)', event('account_settings', 'u', null, { account_id: 'acme', version: 2 ** 53 }), /after.version 9007199254740992 is beyond 2\^53/],
  ])('rejects %s as unplannable (dead-letter)', (_name, ev, message) => {
    expect(() => planEvictions(ev)).toThrow(UnplannableEventError);
    expect(() => planEvictions(ev)).toThrow(message);
  });
});
