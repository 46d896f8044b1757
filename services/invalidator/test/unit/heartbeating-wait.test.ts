import { heartbeatingWait, withHeartbeats } from '../../src/backpressure/heartbeating-wait';

// Real timers: the wait keeps its own monotonic clock (perf_hooks), which jest's fake timers do not move.
describe('heartbeatingWait', () => {
  it('heartbeats through the wait, every 250 ms, not only after it (a Redis back-off reaches 5 s; a session can be 6 s)', async () => {
    const beats: number[] = [];
    const start = performance.now();
    await heartbeatingWait(1200, { heartbeat: async () => void beats.push(performance.now() - start), shouldAbort: () => false });
    const waited = performance.now() - start;
    expect(waited).toBeGreaterThanOrEqual(1190);
    // At 0, 250, 500, 750, 1000 and the end: one sleep of 1.2 s would give two.
    expect(beats.length).toBeGreaterThanOrEqual(6);
    expect(beats[0]).toBeLessThan(50);
  });

  it('ends early once the batch must be abandoned, and a failing heartbeat does not end it', async () => {
    let abort = false;
    setTimeout(() => (abort = true), 300);
    const start = performance.now();
    await heartbeatingWait(5000, { heartbeat: () => Promise.reject(new Error('rebalancing')), shouldAbort: () => abort });
    const waited = performance.now() - start;
    expect(waited).toBeGreaterThanOrEqual(300);
    expect(waited).toBeLessThan(2000);
  });
});

describe('withHeartbeats', () => {
  it('heartbeats while the work runs, one heartbeat at a time (a slow coordinator does not pile them up), and stops when it settles', async () => {
    let inFlight = 0;
    let most = 0;
    let beats = 0;
    const heartbeat = async (): Promise<void> => {
      beats++;
      most = Math.max(most, ++inFlight);
      await new Promise((r) => setTimeout(r, 600));
      inFlight--;
    };
    const result = await withHeartbeats(new Promise((resolve) => setTimeout(() => resolve('sent'), 1300)), { heartbeat, shouldAbort: () => false });
    expect(result).toBe('sent');
    expect(most).toBe(1);
    expect(beats).toBeGreaterThanOrEqual(2);
    const after = beats;
    await new Promise((r) => setTimeout(r, 700));
    expect(beats).toBe(after);
  });
});
