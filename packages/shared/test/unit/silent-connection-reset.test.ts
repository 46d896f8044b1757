import type Redis from 'ioredis';
import { connectionForKey, createLogger, keySlot, SilentConnectionReset, type CacheRedisClient } from '../../src';

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

describe('connectionForKey (which connection a caller of one key judges)', () => {
  const node = (host: string, port: number): Redis => ({ options: { host, port } }) as unknown as Redis;
  const masters = [node('10.0.0.1', 7000), node('10.0.0.2', 7001), node('10.0.0.3', 7002)];
  const key = 'v1:{audit}:samples';
  const cluster = (owner: string | undefined): CacheRedisClient => {
    const slots: string[][] = [];
    if (owner !== undefined) slots[keySlot(key)] = [owner, '10.0.0.9:7009'];
    return { isCluster: true, slots, nodes: () => masters } as unknown as CacheRedisClient;
  };

  it("on a cluster, is the connection to the master of the key's slot, not another master's", () => {
    expect(connectionForKey(cluster('10.0.0.2:7001'), key)).toBe(masters[1]);
  });

  it('on a cluster whose slot map does not name the key yet, is none (nothing to judge)', () => {
    expect(connectionForKey(cluster(undefined), key)).toBeUndefined();
  });

  it('on one Redis, is the client itself', () => {
    const single = { isCluster: false } as unknown as CacheRedisClient;
    expect(connectionForKey(single, key)).toBe(single);
  });
});
