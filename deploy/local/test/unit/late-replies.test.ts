import { lateBy } from '../../src/late-replies';

/** Blocks the event loop for `ms`: a busy test process whose timers fire late. */
function busyFor(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    // spin
  }
}

describe('lateBy (the fault proxy holding replies back)', () => {
  it('passes chunks on in the order they came when the delay is turned off while one is still held and its timer is late', async () => {
    let delayMs = 40;
    const late = lateBy(() => delayMs);
    const out: string[] = [];
    late.on('data', (chunk: Buffer) => out.push(chunk.toString()));
    late.write('first');
    // The held chunk is due, but its timer has not run yet (the process was busy).
    busyFor(60);
    delayMs = 0;
    late.write('second');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(out).toEqual(['first', 'second']);
  });

  it('holds every chunk for the delay it had when it came, never overtaking an earlier one', async () => {
    let delayMs = 60;
    const late = lateBy(() => delayMs);
    const out: Array<{ chunk: string; at: number }> = [];
    const start = Date.now();
    late.on('data', (chunk: Buffer) => out.push({ chunk: chunk.toString(), at: Date.now() - start }));
    late.write('a');
    delayMs = 10;
    late.write('b');
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(out.map((o) => o.chunk)).toEqual(['a', 'b']);
    expect(out[0]!.at).toBeGreaterThanOrEqual(55);
  });

  it('ends only after every held chunk was passed on', async () => {
    const late = lateBy(() => 30);
    const out: string[] = [];
    late.on('data', (chunk: Buffer) => out.push(chunk.toString()));
    const ended = new Promise<void>((resolve) => late.on('end', resolve));
    late.end('last');
    await ended;
    expect(out).toEqual(['last']);
  });
});
