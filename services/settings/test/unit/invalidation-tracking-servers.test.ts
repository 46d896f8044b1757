import { EventEmitter } from 'node:events';
import type Redis from 'ioredis';
import { createLogger } from '@settings/shared';
import { InvalidationTracking } from '../../src/cache/invalidation-tracking';
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
  client(...args: string[]) {
    this.sent.push(`CLIENT ${args.join(' ')}`);
    return Promise.resolve(args[0] === 'ID' ? 7 : 'OK');
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
  const t = new InvalidationTracking(data as unknown as Redis, subscriber as unknown as Redis, near, createLogger('test', 'silent'));
  return { t, data };
};

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
