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

  it('treats a null value as the tombstone after a delete, and an empty one as invalid (dead-lettered, not skipped)', () => {
    expect(decodeChangeEvent(null)).toEqual({ kind: 'tombstone' });
    expect(decodeChangeEvent(Buffer.alloc(0))).toMatchObject({ kind: 'invalid', reason: expect.stringMatching(/empty/) });
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

/**
 * What Kafka Connect's `Flatten` (delimiter ".") makes of an envelope: one level, a null struct
 * written as null fields of its schema (`columns`), as the connector writes the cached tables'
 * events (deploy/debezium/settings-connector.json).
 */
function flattened(env: { op: string; before: Record<string, unknown> | null; after: Record<string, unknown> | null; source: Record<string, unknown>; ts_ms: number }, columns: readonly string[]): Buffer {
  const flat: Record<string, unknown> = {};
  for (const side of ['before', 'after'] as const) for (const c of columns) flat[`${side}.${c}`] = env[side] === null ? null : env[side][c];
  for (const [f, v] of Object.entries(env.source)) flat[`source.${f}`] = v;
  flat.op = env.op;
  flat.ts_ms = env.ts_ms;
  return Buffer.from(JSON.stringify(flat));
}

describe('decodeChangeEvent of a flattened, lean event', () => {
  const lean = { schema: 'public', table: 'doctor_settings', ts_ms: 1700000000000 };
  const columns = ['account_id', 'doctor_id', 'version'];
  const row = (version: number): Record<string, unknown> => ({ account_id: 'a', doctor_id: 'd', version });

  it('reads it back as Debezium\'s nested envelope', () => {
    const raw = Buffer.from('{"before.account_id":"a","before.version":1,"after.account_id":"a","after.version":2,"source.ts_ms":1700000000000,"source.schema":"public","source.table":"account_settings","op":"u","ts_ms":1700000000100}');
    expect(decodeChangeEvent(raw)).toEqual({
      kind: 'change',
      event: { op: 'u', before: { account_id: 'a', version: 1 }, after: { account_id: 'a', version: 2 }, source: { ts_ms: 1700000000000, schema: 'public', table: 'account_settings' }, ts_ms: 1700000000100 },
    });
  });

  it.each([
    ['an insert', { op: 'c', before: null, after: row(1) }],
    ['an update', { op: 'u', before: row(1), after: row(2) }],
    ['a delete', { op: 'd', before: row(2), after: null }],
    ['a snapshot read', { op: 'r', before: null, after: row(3) }],
    ['a truncate', { op: 't', before: null, after: null }],
  ])('decodes %s exactly as its nested envelope', (_name, change) => {
    const env = { ...change, source: lean, ts_ms: 1700000000100 };
    expect(decodeChangeEvent(flattened(env, columns))).toEqual(decodeChangeEvent(Buffer.from(JSON.stringify(env))));
    expect(decodeChangeEvent(flattened(env, columns)).kind).toBe('change');
  });

  it('reads a crafted "after.__proto__" as a plain field, never as the row\'s prototype', () => {
    const raw = Buffer.from('{"before.account_id":null,"before.version":null,"after.account_id":"a","after.version":2,"after.__proto__":{"doctor_id":"x"},"source.ts_ms":1,"source.schema":"public","source.table":"doctor_settings","op":"c","ts_ms":1}');
    const d = decodeChangeEvent(raw);
    expect(d.kind).toBe('change');
    if (d.kind !== 'change') return;
    expect(d.event.after!.doctor_id).toBeUndefined();
    expect(Object.keys(d.event.after!).sort()).toEqual(['__proto__', 'account_id', 'version']);
  });

  it('keeps a null column of a row that exists as null, as the nested envelope has it', () => {
    const env = { op: 'u', before: { ...row(1), doctor_id: null }, after: row(2), source: lean, ts_ms: 1 };
    const d = decodeChangeEvent(flattened(env, columns));
    expect(d.kind === 'change' && d.event.before).toEqual({ account_id: 'a', doctor_id: null, version: 1 });
  });

  it.each([
    ['a delete whose before fields are all null', { op: 'd', before: null, after: null, source: lean, ts_ms: 1 }, /delete without before/],
    ['an update whose after fields are all null', { op: 'u', before: row(1), after: null, source: lean, ts_ms: 1 }, /without after/],
    ['an unknown op', { op: 'x', before: null, after: row(1), source: lean, ts_ms: 1 }, /unknown op/],
    ['a non-numeric commit time', { op: 'c', before: null, after: row(1), source: { ...lean, ts_ms: 'now' }, ts_ms: 1 }, /source.ts_ms/],
    ['no source schema', { op: 'c', before: null, after: row(1), source: { table: 'doctor_settings', ts_ms: 1 }, ts_ms: 1 }, /schema\/table/],
  ])('reports %s as invalid with the nested envelope\'s reason', (_name, env, reason) => {
    const d = decodeChangeEvent(flattened(env, columns));
    expect(d.kind).toBe('invalid');
    if (d.kind === 'invalid') expect(d.reason).toMatch(reason);
  });
});
