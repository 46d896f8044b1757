import { createLogger, LogSampler } from '@settings/shared';
import { FairShareLimiter } from '../../src/admission/fair-share-limiter';
import { refusedCallerLog } from '../../src/admission/refused-caller-log';

function harness() {
  let now = 0;
  const lines: Array<Record<string, unknown>> = [];
  const log = createLogger('test', 'debug', { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  const onResult = refusedCallerLog(log, new LogSampler(1000, () => now));
  return { lines, onResult, advance: (ms: number) => (now += ms) };
}

describe('refusedCallerLog', () => {
  it('names the caller refused over its share or rate, one line a second, counting the refusals it did not log', () => {
    const h = harness();
    h.onResult('shed', 'svc-flooder');
    h.onResult('shed', 'svc-flooder');
    h.onResult('rate_limited', 'svc-flooder');
    h.advance(1000);
    h.onResult('rate_limited', 'svc-flooder');
    expect(h.lines.map((l) => [l.level, l.caller, l.result, l.suppressed])).toEqual([
      ['warn', 'svc-flooder', 'shed', 0],
      ['warn', 'svc-flooder', 'rate_limited', 2],
    ]);
    expect(h.lines[0]!.msg).toMatch(/holds its share.*CALLER_SHARE_EXCEEDED/);
    expect(h.lines[1]!.msg).toMatch(/over its rate.*CALLER_SHARE_EXCEEDED/);
  });

  it('logs nothing for admitted, waited or overloaded calls (an overloaded refusal is not the caller\'s doing)', () => {
    const h = harness();
    for (const result of ['admitted', 'waited', 'overloaded'] as const) h.onResult(result, 'svc-a');
    expect(h.lines).toEqual([]);
  });

  it('is told the caller by the limiter: a caller over its share is the one named', async () => {
    const h = harness();
    const limiter = new FairShareLimiter({ capacity: 2, perCallerMax: 1, maxWaitMs: 0 }, h.onResult);
    const deadline = Date.now() + 5000;
    const release = await limiter.acquire('svc-flooder', deadline);
    await expect(limiter.acquire('svc-flooder', deadline)).rejects.toMatchObject({ code: 'CALLER_SHARE_EXCEEDED' });
    release();
    expect(h.lines.map((l) => [l.caller, l.result])).toEqual([['svc-flooder', 'shed']]);
  });
});
