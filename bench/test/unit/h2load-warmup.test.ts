import { chmodSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { h2load } from '../../src/h2load';

// h2load.ts runs `h2load` with execFile: here it runs the stand-in below instead, never the real one.
const mockFakeH2load = join(tmpdir(), `fake-h2load-${process.pid}.sh`);
jest.mock('node:child_process', () => {
  const real = jest.requireActual<typeof import('node:child_process')>('node:child_process');
  return { ...real, execFile: (_file: string, ...rest: unknown[]) => (real.execFile as (...a: unknown[]) => unknown)(mockFakeH2load, ...rest) };
});

// A stand-in for h2load that prints what nghttp2's h2load prints in a timed run with a
// warm-up (h2load.cc: the warm-up message, then the summary lines h2load.ts parses): no load.
const FAKE = `#!/usr/bin/env bash
echo "starting benchmark..."
echo "Warm-up started for thread #0."
sleep 0.4
echo "Warm-up phase is over for thread #0."
echo "Main benchmark duration is started for thread #0."
sleep 0.4
echo "Main benchmark duration is over for thread #0. Stopping all clients."
echo "finished in 1.00s, 300.00 req/s, 57.00KB/s"
echo "requests: 300 total, 300 started, 300 done, 300 succeeded, 0 failed, 0 errored, 0 timeout"
echo "traffic: 60.00KB (61440) total, 3.00KB (3072) headers (space savings 90.00%), 55.66KB (57000) data"
`;

describe('h2load: a counter read when the warm-up is over', () => {
  beforeAll(() => {
    writeFileSync(mockFakeH2load, FAKE);
    chmodSync(mockFakeH2load, 0o755);
  });
  afterAll(() => rmSync(mockFakeH2load, { force: true }));

  it('calls onMeasuring when h2load says measuring started, not before the warm-up, and waits for it', async () => {
    const started = Date.now();
    let calledAfterMs = -1;
    let hookDone = false;
    const r = await h2load({
      port: 1,
      path: '/x',
      bodyFile: mockFakeH2load,
      durationSeconds: 1,
      warmupSeconds: 1,
      clients: 1,
      streams: 1,
      onMeasuring: async () => {
        calledAfterMs = Date.now() - started;
        await new Promise((res) => setTimeout(res, 50));
        hookDone = true;
      },
    });
    expect(calledAfterMs).toBeGreaterThanOrEqual(350);
    expect(hookDone).toBe(true);
    expect(r.succeeded).toBe(300);
  });
});
