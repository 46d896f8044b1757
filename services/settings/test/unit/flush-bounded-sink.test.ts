import { Writable } from 'node:stream';
import { flushBoundedSink } from '../../src/watch/flush-bounded-sink';
import type { WatchSink } from '../../src/watch/watcher';

/**
 * A Watch caller that stops reading: grpc-js's server stream is an object-mode Writable whose
 * write callback waits until HTTP/2 flow control lets the message out. How many messages does
 * the watcher hand it before it counts the stream as full (and coalesces the rest)?
 */
function stalledGrpcStream(): { stream: Writable; flushOne: () => void } {
  const callbacks: Array<() => void> = [];
  const stream = new Writable({
    objectMode: true,
    write(_message: unknown, _encoding, done: () => void) {
      callbacks.push(done);
    },
  });
  return { stream, flushOne: () => callbacks.shift()?.() };
}

/** Writes as the Watcher does: until `write` returns false. */
function writeUntilFull(sink: WatchSink<string>): number {
  let written = 0;
  while (written < 100) {
    written += 1;
    if (!sink.write(`state ${written}`)) break;
  }
  return written;
}

describe('flushBoundedSink', () => {
  it('holds at most two messages of a stream whose caller stopped reading (grpc-js alone: 16)', () => {
    const plain = stalledGrpcStream();
    const unbounded: WatchSink<string> = { write: (m) => plain.stream.write(m), onceDrained: (fn) => plain.stream.once('drain', fn) };
    expect(writeUntilFull(unbounded)).toBe(16);
    expect(writeUntilFull(flushBoundedSink(stalledGrpcStream().stream))).toBe(2);
  });

  it('is drained once every message written has been flushed, and takes more after it', async () => {
    const { stream, flushOne } = stalledGrpcStream();
    const sink = flushBoundedSink(stream);
    expect(writeUntilFull(sink)).toBe(2);
    let drained = 0;
    sink.onceDrained(() => (drained += 1));
    flushOne();
    await new Promise((r) => setImmediate(r));
    expect(drained).toBe(0);
    // The Writable hands its buffered second message to _write after the first is flushed.
    flushOne();
    await new Promise((r) => setImmediate(r));
    expect(drained).toBe(1);
    expect(sink.write('next')).toBe(true);
  });
});
