import { createLogger, type CacheRedisClient } from '@settings/shared';
import { REDIS_HEARTBEAT_MS, RedisNodeHeartbeat } from '../../src/cache/redis-node-heartbeat';

/**
 * Each data connection is judged on its own answers: on a cluster, one master gone silent while
 * the others answer is replaced (that one only). Counting every round trip together, the other
 * masters' answers started the count over and the silent connection was never replaced.
 * (Against a real cluster: test/integration/silent-redis-cluster-node.test.ts.)
 */
interface FakeNode {
  status: string;
  options: { host: string; port: number };
  ping: () => Promise<string>;
  disconnect: jest.Mock;
}

function node(port: number, answers: () => boolean): FakeNode {
  return {
    status: 'ready',
    options: { host: '127.0.0.1', port },
    ping: () => (answers() ? Promise.resolve('PONG') : Promise.reject(new Error('Command timed out'))),
    disconnect: jest.fn(),
  };
}

beforeEach(() => jest.useFakeTimers());
afterEach(() => jest.useRealTimers());

async function beats(n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    jest.advanceTimersByTime(REDIS_HEARTBEAT_MS);
    // The PINGs' outcomes are handled in microtasks.
    await Promise.resolve();
    await Promise.resolve();
  }
}

it('on a cluster, replaces the silent master\'s connection only, while the other masters answer', async () => {
  const silent = node(7001, () => false);
  const others = [node(7002, () => true), node(7003, () => true)];
  const cluster = { isCluster: true, nodes: () => [silent, ...others] };
  const onReset = jest.fn();
  const hb = new RedisNodeHeartbeat(cluster as unknown as CacheRedisClient, createLogger('test', 'silent'), { intervalMs: REDIS_HEARTBEAT_MS, onReset });
  try {
    await beats(3);
    expect(silent.disconnect).not.toHaveBeenCalled(); // 3 timeouts, but only 2 s since the first
    await beats(1);
    expect(silent.disconnect).toHaveBeenCalledWith(true);
    expect(onReset).toHaveBeenCalledTimes(1);
    for (const o of others) expect(o.disconnect).not.toHaveBeenCalled();
  } finally {
    hb.stop();
  }
});

it('an answer starts the count over: a connection that answers now and then is not replaced', async () => {
  let n = 0;
  const flaky = node(6379, () => ++n % 3 === 0);
  const redis = Object.assign(flaky, { isCluster: false });
  const hb = new RedisNodeHeartbeat(redis as unknown as CacheRedisClient, createLogger('test', 'silent'), { intervalMs: REDIS_HEARTBEAT_MS });
  try {
    await beats(12);
    expect(flaky.disconnect).not.toHaveBeenCalled();
  } finally {
    hb.stop();
  }
});

it('skips a connection that is not ready (connecting: ioredis would queue the PING)', async () => {
  const connecting = { ...node(6379, () => false), status: 'connecting', isCluster: false };
  const ping = jest.spyOn(connecting, 'ping');
  const hb = new RedisNodeHeartbeat(connecting as unknown as CacheRedisClient, createLogger('test', 'silent'), { intervalMs: REDIS_HEARTBEAT_MS });
  try {
    await beats(5);
    expect(ping).not.toHaveBeenCalled();
    expect(connecting.disconnect).not.toHaveBeenCalled();
  } finally {
    hb.stop();
  }
});
