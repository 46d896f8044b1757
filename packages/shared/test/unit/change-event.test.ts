import { decodeChangeEvent } from '../../src/debezium/change-event';

const source = { connector: 'postgresql', db: 'settings', schema: 'public', table: 'account_settings', ts_ms: 1700000000000, txId: 7, lsn: 123 };

describe('decodeChangeEvent', () => {
  it('decodes a Debezium update envelope', () => {
    const raw = Buffer.from(JSON.stringify({ op: 'u', before: null, after: { account_id: 'a', version: 2 }, source, ts_ms: 1700000000100 }));
    const d = decodeChangeEvent(raw);
    expect(d.kind).toBe('change');
    if (d.kind === 'change') expect(d.event).toMatchObject({ op: 'u', after: { account_id: 'a' }, source: { table: 'account_settings', txId: 7, lsn: 123 } });
  });

  it('accepts the schemas.enable=true wrapping', () => {
    const raw = Buffer.from(JSON.stringify({ schema: {}, payload: { op: 't', before: null, after: null, source, ts_ms: 1 } }));
    expect(decodeChangeEvent(raw).kind).toBe('change');
  });

  it('treats a null value as the tombstone after a delete', () => {
    expect(decodeChangeEvent(null)).toEqual({ kind: 'tombstone' });
  });

  it.each([
    ['not JSON', Buffer.from('{oops'), /not JSON/],
    ['an array', Buffer.from('[]'), /not an object/],
    ['an unknown op', Buffer.from(JSON.stringify({ op: 'x', source })), /unknown op/],
    ['no source', Buffer.from(JSON.stringify({ op: 'c', after: {} })), /source/],
    ['an update without after', Buffer.from(JSON.stringify({ op: 'u', before: null, after: null, source })), /without after/],
    ['a delete without before', Buffer.from(JSON.stringify({ op: 'd', before: null, after: null, source })), /without before/],
    ['a non-numeric ts_ms', Buffer.from(JSON.stringify({ op: 'c', after: {}, source: { ...source, ts_ms: 'now' } })), /ts_ms/],
  ])('reports %s as invalid with a reason', (_n, raw, reason) => {
    const d = decodeChangeEvent(raw);
    expect(d.kind).toBe('invalid');
    if (d.kind === 'invalid') expect(d.reason).toMatch(reason);
  });
});
