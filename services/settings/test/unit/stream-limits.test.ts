import { StreamLimits } from '../../src/watch/stream-limits';

describe('Watch stream limits', () => {
  it('refuses a caller over its share while others still open streams, and frees a slot on release', () => {
    const limits = new StreamLimits(10, 2);
    const a1 = limits.tryOpen('a');
    const a2 = limits.tryOpen('a');
    expect(limits.tryOpen('a')).toBe('per_caller');
    expect(typeof limits.tryOpen('b')).toBe('function');
    (a1 as () => void)();
    (a1 as () => void)(); // a second release of the same stream changes nothing
    expect(typeof limits.tryOpen('a')).toBe('function');
    expect(typeof a2).toBe('function');
    expect(limits.open).toBe(3);
  });

  it('refuses every caller once the replica is full', () => {
    const limits = new StreamLimits(2, 5);
    limits.tryOpen('a');
    limits.tryOpen('b');
    expect(limits.tryOpen('c')).toBe('per_replica');
  });
});
