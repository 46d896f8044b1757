import { ChangeTopicReader, pgQuery, uniqueId } from '../../src';
import { changeTopic, localStack } from '@settings/shared';

/**
 * The foundation of the whole design: a row written with plain SQL — not through any
 * service — reaches Kafka as a Debezium change event within seconds, through the real
 * PostgreSQL (pgoutput), Kafka Connect + Debezium and a KRaft broker.
 */
const topic = changeTopic(localStack.topicPrefix, 'staff_permission_lists');
const reader = new ChangeTopicReader(topic);
const account = uniqueId();

beforeAll(() => reader.start());
afterAll(async () => {
  await reader.stop();
  await pgQuery(localStack.database, 'DELETE FROM staff_permission_lists WHERE account_id = $1', [account]);
});

type Envelope = { op: string; before: Record<string, unknown> | null; after: Record<string, unknown> | null; source: Record<string, unknown> };

describe('Debezium change events from plain SQL', () => {
  it('an INSERT made in psql arrives as op "c" with after, lsn, txId and commit time', async () => {
    const t0 = Date.now();
    await pgQuery(localStack.database, 'INSERT INTO staff_permission_lists (account_id) VALUES ($1)', [account]);
    const { value, message } = await reader.waitFor((v) => (v as Envelope | null)?.after?.account_id === account, 15_000);
    const ev = value as Envelope;
    expect(ev.op).toBe('c');
    expect(ev.before).toBeNull();
    expect(ev.after).toMatchObject({ account_id: account });
    expect(typeof ev.after!.version).toBe('number');
    expect(ev.source).toMatchObject({ connector: 'postgresql', db: localStack.database, schema: 'public', table: 'staff_permission_lists' });
    expect(typeof ev.source.lsn).toBe('number');
    expect(typeof ev.source.txId).toBe('number');
    expect(ev.source.ts_ms as number).toBeGreaterThanOrEqual(t0 - 1000);
    expect(JSON.parse(message.key!.toString())).toEqual({ account_id: account });
  });

  it('a DELETE arrives as op "d" whose before carries the whole old row, then a tombstone', async () => {
    await pgQuery(localStack.database, 'DELETE FROM staff_permission_lists WHERE account_id = $1', [account]);
    const { value } = await reader.waitFor((v) => (v as Envelope | null)?.op === 'd' && (v as Envelope).before?.account_id === account, 15_000);
    const ev = value as Envelope;
    expect(ev.after).toBeNull();
    // REPLICA IDENTITY FULL: the deleted row's version is there for the eviction fence.
    expect(typeof ev.before!.version).toBe('number');
    await reader.waitFor((v, m) => v === null && m.key?.toString() === JSON.stringify({ account_id: account }), 15_000);
  });
});
