import Redis from 'ioredis';
import { createCacheRedis, localRedisUrl } from '../../src';

/**
 * The cache client's command timeout against a real Redis: a reply that arrived while this
 * process was stalled is a reply, not a timeout (a false timeout opens the settings service's
 * circuit breaker and drops its near-cache under load); a Redis that does not answer still
 * times out.
 */
const TIMEOUT_MS = 100;
const redis = createCacheRedis(localRedisUrl, { commandTimeoutMs: TIMEOUT_MS, autoPipelining: false, lazyConnect: true });
const admin = new Redis(localRedisUrl);
beforeAll(() => redis.connect());
afterAll(async () => {
  redis.disconnect();
  await admin.quit();
});

/** Blocks this process's event loop, as GC or a CPU-starved host does. */
function stall(ms: number): void {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    // busy: nothing else runs, Redis answers meanwhile
  }
}

it('answers a command whose reply arrived while this process was stalled past the timeout', async () => {
  await redis.ping();
  const outcomes = await Promise.all(
    Array.from({ length: 5 }, async () => {
      const reply = redis.ping().then(
        () => 'answered',
        (err: Error) => err.message,
      );
      stall(3 * TIMEOUT_MS);
      return reply;
    }),
  );
  expect(outcomes).toEqual(Array(5).fill('answered'));
});

it('still fails a command Redis does not answer within the timeout', async () => {
  // Redis holds every client's commands for 1.5 s; this process stays idle meanwhile. Far
  // longer than the timeout, so that a stall of this busy process cannot outlast the pause.
  await admin.call('CLIENT', 'PAUSE', '1500', 'ALL');
  const started = Date.now();
  await expect(redis.ping()).rejects.toThrow('Command timed out');
  const waited = Date.now() - started;
  expect(waited).toBeGreaterThanOrEqual(TIMEOUT_MS - 5);
  expect(waited).toBeLessThan(1_200);
});
