import { Transform, type TransformCallback } from 'node:stream';

/**
 * Passes every chunk on `delayMs()` after it came (the delay read when it came), strictly in
 * order: a chunk never overtakes an earlier one, and the stream ends after the last held chunk.
 *
 * Why one queue drained by one timer: each chunk holding its own timer let a chunk that came
 * with the delay off go out at once while an earlier one's timer was due but had not run yet (a
 * busy test process runs timers late). Reordered replies are matched to the wrong commands by
 * the client: an adaptive-ceiling test saw its INFO's NOPERM error delivered as an eviction's.
 */
export function lateBy(delayMs: () => number): Transform {
  const held: Array<{ chunk: Buffer; due: number }> = [];
  let timer: NodeJS.Timeout | undefined;
  let ended: TransformCallback | undefined;
  const release = (stream: Transform): void => {
    timer = undefined;
    const now = Date.now();
    while (held.length > 0 && held[0]!.due <= now) stream.push(held.shift()!.chunk);
    if (held.length > 0) timer = setTimeout(() => release(stream), held[0]!.due - now);
    else ended?.();
  };
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      const ms = delayMs();
      if (held.length === 0 && ms <= 0) return done(null, chunk);
      const due = Math.max(Date.now() + ms, held.at(-1)?.due ?? 0);
      held.push({ chunk, due });
      timer ??= setTimeout(() => release(this), due - Date.now());
      done();
    },
    flush(done) {
      if (held.length === 0) return done();
      ended = done;
    },
  });
}
