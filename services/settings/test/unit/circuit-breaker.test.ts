import { CircuitBreaker, type BreakerState } from '../../src/cache/circuit-breaker';
import { ConcurrencyLimiter } from '../../src/cache/concurrency-limiter';

describe('Redis circuit breaker', () => {
  let now = 0;
  const states: BreakerState[] = [];
  const breaker = (): CircuitBreaker => new CircuitBreaker({ failureThreshold: 3, openMs: 1000, now: () => now, onStateChange: (s) => states.push(s) });
  beforeEach(() => {
    now = 0;
    states.length = 0;
  });

  it('opens after N consecutive failures; a success in between resets the count', () => {
    const b = breaker();
    b.recordFailure();
    b.recordFailure();
    b.recordSuccess();
    b.recordFailure();
    b.recordFailure();
    expect(b.state).toBe('closed');
    b.recordFailure();
    expect(b.state).toBe('open');
    expect(b.allowRequest()).toBe(false);
  });

  it('counts a failure reported by several calls with the same error once (one shared round trip)', () => {
    const b = breaker();
    const shared = new Error('Command timed out');
    for (let i = 0; i < 10; i++) b.recordFailure(shared);
    expect(b.state).toBe('closed');
    b.recordFailure(new Error('Command timed out'));
    b.recordFailure(new Error('Command timed out'));
    expect(b.state).toBe('open');
  });

  it('lets exactly one probe through after the open period, and closes on its success', () => {
    const b = breaker();
    for (let i = 0; i < 3; i++) b.recordFailure();
    now = 999;
    expect(b.allowRequest()).toBe(false);
    now = 1000;
    expect(b.allowRequest()).toBe(true);
    expect(b.state).toBe('half-open');
    expect(b.allowRequest()).toBe(false);
    b.recordSuccess();
    expect(b.state).toBe('closed');
    expect(b.allowRequest()).toBe(true);
    expect(states).toEqual(['open', 'half-open', 'closed']);
  });

  it('reopens for another period when the probe fails', () => {
    const b = breaker();
    for (let i = 0; i < 3; i++) b.recordFailure();
    now = 1500;
    expect(b.allowRequest()).toBe(true);
    b.recordFailure();
    expect(b.state).toBe('open');
    now = 2400;
    expect(b.allowRequest()).toBe(false);
    now = 2500;
    expect(b.allowRequest()).toBe(true);
  });
});

describe('fallback concurrency limiter', () => {
  it('never queues: beyond the limit it refuses at once, and a release frees one permit (once)', () => {
    const limiter = new ConcurrencyLimiter(2);
    const r1 = limiter.tryAcquire();
    const r2 = limiter.tryAcquire();
    expect(typeof r1).toBe('function');
    expect(typeof r2).toBe('function');
    expect(limiter.tryAcquire()).toBeUndefined();
    r1!();
    r1!();
    expect(limiter.active).toBe(1);
    expect(limiter.tryAcquire()).toBeDefined();
    expect(limiter.tryAcquire()).toBeUndefined();
  });
});
