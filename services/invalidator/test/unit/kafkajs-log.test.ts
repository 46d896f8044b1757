import { Writable } from 'node:stream';
import { logLevel } from 'kafkajs';
import { createLogger } from '@settings/shared';
import { kafkajsLogCreator } from '../../src/consumer/kafkajs-log';

/** The lines a logger at `level` writes, parsed. */
function capture(level: string) {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  const write = kafkajsLogCreator(createLogger('test', level, sink))(logLevel.WARN);
  const entry = (level: logLevel, label: string, message: string) => write({ namespace: 'Producer', level, label, log: { timestamp: '2026-12-06T00:00:00.000Z', message, broker: 'b:9092' } });
  return { lines, entry };
}

describe('kafkajs log lines', () => {
  it('are written as the service logger lines: ERROR as error, WARN as warn, with the namespace and fields', async () => {
    const { lines, entry } = capture('debug');
    entry(logLevel.ERROR, 'ERROR', 'Crash: something');
    entry(logLevel.WARN, 'WARN', 'Connection timeout');
    await new Promise((r) => setImmediate(r));
    expect(lines.map((l) => [l.level, l.msg, l.namespace, l.broker])).toEqual([
      ['error', 'Crash: something', 'Producer', 'b:9092'],
      ['warn', 'Connection timeout', 'Producer', 'b:9092'],
    ]);
  });

  it("write kafkajs' notice about an idempotent producer with limited retries (the dead-letter producer, on purpose) as debug, not warn", async () => {
    const { lines, entry } = capture('info');
    entry(logLevel.WARN, 'WARN', 'Limiting retries for the idempotent producer may invalidate EoS guarantees');
    await new Promise((r) => setImmediate(r));
    expect(lines).toEqual([]);
  });
});
