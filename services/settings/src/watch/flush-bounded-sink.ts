import type { WatchSink } from './watcher';

/**
 * The part of a gRPC server stream a watcher writes to: `Writable#write` with a callback, which
 * grpc-js calls once the message has gone to the HTTP/2 stream, i.e. not while the caller's
 * flow-control window holds it back.
 */
export interface MessageWritable<M> {
  write(message: M, flushed: (err?: Error | null) => void): boolean;
}

/** Messages of one stream written and not yet flushed, at most (see flushBoundedSink). */
export const MAX_UNFLUSHED_MESSAGES = 2;

/**
 * A watch sink that counts the stream as full once `maxUnflushed` messages are written and not
 * flushed, instead of at grpc-js's own mark (its Writable is in object mode: 16 messages). A
 * caller that stops reading then holds at most that many messages of its stream in this
 * process (a staff list's full state is up to STAFF_LIST_CACHE_MAX_BYTES each), not 16: the
 * watcher coalesces every later change into the state it sends once the stream drains.
 */
export function flushBoundedSink<M>(stream: MessageWritable<M>, maxUnflushed = MAX_UNFLUSHED_MESSAGES): WatchSink<M> {
  let unflushed = 0;
  let drained: Array<() => void> = [];
  return {
    write(message: M): boolean {
      unflushed += 1;
      stream.write(message, () => {
        unflushed -= 1;
        if (unflushed > 0 || drained.length === 0) return;
        const waiting = drained;
        drained = [];
        for (const fn of waiting) fn();
      });
      return unflushed < maxUnflushed;
    },
    onceDrained(fn: () => void): void {
      if (unflushed === 0) queueMicrotask(fn);
      else drained.push(fn);
    },
  };
}
