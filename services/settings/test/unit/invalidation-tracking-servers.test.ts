import { EventEmitter } from 'node:events';
import type Redis from 'ioredis';
import { createLogger } from '@settings/shared';
import { HEARTBEAT_MS, InvalidationTracking, trackingInfoProblem } from '../../src/cache/invalidation-tracking';
import { NearCache } from '../../src/cache/near-cache';

/**
 * Tracking set-up when the data and subscriber connections may have reached different Redis
 * servers (a failover that moved the address, each connection reconnecting on its own). Client
 * ids are small per-server counters, so `REDIRECT <the subscriber's id>` can name a live client
 * of the data connection's server: Redis accepts it and sends that client the pushes. Stand-in
 * connections here: which client a server gives an id to cannot be arranged on a real one.
 */
class StandInConnection extends EventEmitter {
  status = 'ready';
  readonly sent: string[] = [];
  constructor(private readonly runId: string) {
    super();
  }
  /** What CLIENT TRACKINGINFO answers (a function: it may reject). */
  trackingInfo: () => Promise<unknown> = () => Promise.resolve(['flags', ['on', 'bcast'], 'redirect', 7, 'prefixes', []]);
  disconnects = 0;
  client(...args: string[]) {
    this.sent.push(`CLIENT ${args.join(' ')}`);
    if (args[0] === 'TRACKINGINFO') return this.trackingInfo();
    return Promise.resolve(args[0] === 'ID' ? 7 : 'OK');
  }
  disconnect() {
    this.disconnects += 1;
  }
  info() {
    return Promise.resolve(`# Server\r\nredis_version:7.0.15\r\nrun_id:${this.runId}\r\n`);
  }
  subscribe() {
    return Promise.resolve(1);
  }
  ping() {
    return Promise.resolve('PONG');
  }
  pipeline() {
    const queued: string[][] = [];
    const p = {
      client: (...args: string[]) => {
        queued.push(args);
        return p;
      },
      exec: () => {
        for (const args of queued) this.sent.push(`CLIENT ${args.join(' ')}`);
        return Promise.resolve(queued.map(() => [null, 'OK']));
      },
    };
    return p;
  }
}

const tracking = (dataRunId: string, subscriberRunId: string) => {
  const data = new StandInConnection(dataRunId);
  const subscriber = new StandInConnection(subscriberRunId);
  const near = new NearCache({ maxEntries: 10, maxBytes: 1 << 20 });
  const lines: Array<{ level: string; msg: string }> = [];
  const log = createLogger('test', 'debug', { write: (line: string) => void lines.push(JSON.parse(line) as { level: string; msg: string }) });
  const t = new InvalidationTracking(data as unknown as Redis, subscriber as unknown as Redis, near, log);
  return { t, data, subscriber, near, lines };
};

const warnings = (lines: Array<{ level: string; msg: string }>): string[] => lines.filter((l) => l.level === 'warn' || l.level === 'error').map((l) => l.msg);

describe('near-cache tracking at shutdown', () => {
  it('the connections closing after close() turn it off without a "tracking lost" warning (a closed connection is a lost tracking only while it runs)', async () => {
    const { t, data, subscriber, near, lines } = tracking('aaaa', 'aaaa');
    expect(await t.waitOn(1000)).toBe(true);
    t.close();
    data.emit('close');
    subscriber.emit('close');
    expect(t.state).toBe('off');
    expect(near.usable).toBe(false);
    expect(warnings(lines)).toEqual([]);
  });

  it('a connection closing while it runs is still warned about', async () => {
    const { t, data, lines } = tracking('aaaa', 'aaaa');
    expect(await t.waitOn(1000)).toBe(true);
    data.emit('close');
    expect(warnings(lines)).toEqual([expect.stringMatching(/^near-cache off: Redis invalidation tracking lost/)]);
    t.close();
  });
});

describe('near-cache tracking set-up', () => {
  it('stays off while the data and subscriber connections are on different Redis servers (no REDIRECT to a client of another server)', async () => {
    const { t, data } = tracking('aaaa', 'bbbb');
    expect(await t.waitOn(300)).toBe(false);
    expect(data.sent.filter((c) => c.includes('REDIRECT'))).toEqual([]);
    t.close();
  });

  it('turns on when both are on one server', async () => {
    const { t, data } = tracking('aaaa', 'aaaa');
    expect(await t.waitOn(1000)).toBe(true);
    expect(data.sent.some((c) => c.startsWith('CLIENT TRACKING on REDIRECT 7'))).toBe(true);
    t.close();
  });
});

describe('near-cache tracking heartbeat on the data connection (the one that owns CLIENT TRACKING)', () => {
  const heartbeat = () => new Promise((r) => setTimeout(r, HEARTBEAT_MS + 300));

  it('stays on while the data connection reports tracking for the subscriber', async () => {
    const { t, data } = tracking('aaaa', 'aaaa');
    expect(await t.waitOn(1000)).toBe(true);
    await heartbeat();
    expect(t.state).toBe('on');
    expect(data.sent).toContain('CLIENT TRACKINGINFO');
    t.close();
  });

  it('turns off, empties L1 and reconnects the data connection when it stops answering (Redis may have freed it and its tracking)', async () => {
    const { t, data, near } = tracking('aaaa', 'aaaa');
    expect(await t.waitOn(1000)).toBe(true);
    data.trackingInfo = () => Promise.reject(new Error('Command timed out'));
    await heartbeat();
    expect(t.state).toBe('off');
    expect(near.usable).toBe(false);
    expect(data.disconnects).toBe(1);
    t.close();
  });

  it('turns off when the data connection no longer tracks (a new client behind the same connection)', async () => {
    const { t, data } = tracking('aaaa', 'aaaa');
    expect(await t.waitOn(1000)).toBe(true);
    data.trackingInfo = () => Promise.resolve(['flags', ['off'], 'redirect', -1, 'prefixes', []]);
    await heartbeat();
    expect(t.state).toBe('off');
    t.close();
  });
});

describe('trackingInfoProblem', () => {
  it('accepts BCAST tracking for the subscriber and names what else is wrong', () => {
    expect(trackingInfoProblem(['flags', ['on', 'bcast'], 'redirect', 101, 'prefixes', ['v1:']], '101')).toBeUndefined();
    expect(trackingInfoProblem(['flags', ['off'], 'redirect', -1, 'prefixes', []], '101')).toBe('tracking is off');
    expect(trackingInfoProblem(['flags', ['on', 'bcast', 'broken_redirect'], 'redirect', 101, 'prefixes', []], '101')).toMatch(/gone/);
    expect(trackingInfoProblem(['flags', ['on'], 'redirect', 101, 'prefixes', []], '101')).toMatch(/BCAST/);
    expect(trackingInfoProblem(['flags', ['on', 'bcast'], 'redirect', 102, 'prefixes', []], '101')).toMatch(/redirects to 102/);
    expect(trackingInfoProblem('OK', '101')).toMatch(/unreadable/);
  });
});
