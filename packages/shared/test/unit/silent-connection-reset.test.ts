import { createLogger, SilentConnectionReset } from '../../src';

const timeout = (): Error => new Error('Command timed out');

function harness(afterTimeouts = 3, afterMs = 3000) {
  let now = 0;
  let reconnects = 0;
  const reset = new SilentConnectionReset(() => (reconnects += 1), createLogger('test', 'silent'), { afterTimeouts, afterMs, now: () => now });
  return {
    reset,
    advance: (ms: number) => (now += ms),
    get reconnects() {
      return reconnects;
    },
  };
}

describe('SilentConnectionReset', () => {
  it('replaces the connection once round trips have timed out enough times for long enough, with no answer between', () => {
    const h = harness();
    h.reset.observe(timeout());
    h.advance(1000);
    h.reset.observe(timeout());
    h.advance(1000);
    h.reset.observe(timeout());
    expect(h.reconnects).toBe(0); // 3 timeouts, but 2 s since the first
    h.advance(1000);
    h.reset.observe(timeout());
    expect(h.reconnects).toBe(1);
    // The count starts over after a replacement.
    h.reset.observe(timeout());
    expect(h.reconnects).toBe(1);
  });

  it('does not replace a connection that many commands timed out on at once (one stall)', () => {
    const h = harness();
    for (let i = 0; i < 50; i++) h.reset.observe(timeout());
    expect(h.reconnects).toBe(0);
  });

  it('starts over on any answer, an error reply included: the connection carries bytes (a slow Redis is not reconnected over and over)', () => {
    const h = harness();
    for (const answer of [undefined, new Error('NOPERM this user has no permissions'), new Error('READONLY You can\'t write against a read only replica.')]) {
      h.reset.observe(timeout());
      h.advance(2000);
      h.reset.observe(timeout());
      h.advance(2000);
      h.reset.observe(answer);
      h.reset.observe(timeout());
      h.advance(2000);
      h.reset.observe(timeout());
      expect(h.reconnects).toBe(0);
      h.reset.observe(undefined);
    }
  });
});
