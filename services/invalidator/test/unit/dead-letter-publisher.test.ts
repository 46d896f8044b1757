import { createRequire } from 'node:module';
import type { Producer } from 'kafkajs';
import { createLogger } from '@settings/shared';
import { DeadLetterPublisher, type DeadLetter, type DeadLetterSend } from '../../src/consumer/dead-letter-publisher';
import { createInvalidatorMetrics } from '../../src/metrics';

// kafkajs' own record batch encoder (what its producer sends for one partition), to check the
// publisher's size bound against the real encoding. Internal modules: no types.
const load = createRequire(require.resolve('kafkajs'));
const Record = load('./src/protocol/recordBatch/record/v0') as (r: { key: Buffer | null; value: Buffer | null; headers: Record<string, string>; offsetDelta: number }) => unknown;
const { RecordBatch } = load('./src/protocol/recordBatch/v0') as { RecordBatch: (b: { records: unknown[]; lastOffsetDelta: number }) => Promise<{ size(): number }> };

/** Bytes of one send as one record batch, with the 12-byte log overhead (offset and length) the broker's max.message.bytes counts. */
const batchBytes = async (send: DeadLetterSend): Promise<number> =>
  (await RecordBatch({ records: send.messages.map((m, i) => Record({ ...m, offsetDelta: i })), lastOffsetDelta: send.messages.length - 1 })).size();

const publisher = (maxBytesPerSend: number) => new DeadLetterPublisher({} as Producer, 'dlq', maxBytesPerSend, createLogger('test', 'silent'), createInvalidatorMetrics());

const versionZero = (i: number): DeadLetter => {
  const account = `acct-${String(i).padStart(6, '0')}`;
  return {
    topic: 'settings.public.account_settings',
    partition: 3,
    offset: String(1_234_567 + i),
    key: Buffer.from(JSON.stringify({ account_id: account })),
    value: Buffer.from(JSON.stringify({ before: { account_id: account, version: 0 }, after: { account_id: account, version: 0 }, source: { schema: 'public', table: 'account_settings', ts_ms: 1733300000000, lsn: 123456790 }, op: 'u', ts_ms: 1733300000100 }).padEnd(520)),
    reason: 'after.version is 0: no row has it (versions start at 1), so the change event was decoded wrongly upstream (is the publication sending fewer columns than Debezium expects?)',
    category: 'unmapped',
  };
};

describe('DeadLetterPublisher.plan', () => {
  it("splits a chunk's dead letters into sends, in order, each below the byte budget as kafkajs encodes it", async () => {
    const letters = Array.from({ length: 2000 }, (_, i) => versionZero(i));
    const sends = publisher(64 * 1024).plan(letters);
    expect(sends.length).toBeGreaterThan(10);
    expect(sends.flatMap((s) => s.letters)).toEqual(letters);
    for (const s of sends) {
      expect(s.messages).toHaveLength(s.letters.length);
      expect(await batchBytes(s)).toBeLessThanOrEqual(64 * 1024);
    }
    // Not needlessly small: every send but the last is more than 3/4 full.
    for (const s of sends.slice(0, -1)) expect(await batchBytes(s)).toBeGreaterThan(48 * 1024);
    expect(sends[0]!.messages[0]!.headers).toMatchObject({ 'dlq.source.offset': '1234567', 'dlq.source.partition': '3', 'dlq.source.topic': 'settings.public.account_settings' });
    expect(sends[0]!.messages[0]!.headers).not.toHaveProperty('dlq.truncated.value.bytes');
  });

  it('cuts the value of a dead letter larger than the budget to fit, and says so with its original length', async () => {
    const big = { ...versionZero(1), value: Buffer.alloc(200_000, 'y'), reason: `unknown op ${JSON.stringify('z'.repeat(5000))}` };
    const sends = publisher(16 * 1024).plan([versionZero(0), big, versionZero(2)]);
    expect(sends.flatMap((s) => s.letters.map((l) => l.offset))).toEqual(['1234567', '1234568', '1234569']);
    const cut = sends.flatMap((s) => s.messages)[1]!;
    expect(cut.headers['dlq.truncated.value.bytes']).toBe('200000');
    expect(cut.headers).not.toHaveProperty('dlq.truncated.key.bytes');
    expect(cut.key).toEqual(big.key);
    expect(cut.value!.length).toBeGreaterThan(10_000);
    expect(Buffer.compare(cut.value!, big.value.subarray(0, cut.value!.length))).toBe(0);
    expect(cut.headers['dlq.reason']!.length).toBeLessThanOrEqual(1001);
    for (const s of sends) expect(await batchBytes(s)).toBeLessThanOrEqual(16 * 1024);
  });
});
