import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { AccountSettings } from '@settings/api';
import { freePort } from '@settings/local-stack';
import { accountsDeletedAfterAll, metricValue, startTestServer, waitFor, type TestServer } from '../support/test-server';

/**
 * README, Guarantees ("a dead Redis costs nothing"), for a Redis that is connected and stops
 * answering (a hung server, a network black hole; here its process frozen with SIGSTOP): a read
 * waits for Redis at most the command timeout, then comes from PostgreSQL; after
 * REDIS_BREAKER_FAILURE_THRESHOLD failures the breaker opens and reads stop waiting for Redis;
 * writes never touch it. redis-down.test.ts covers a Redis that is not connected at all. The
 * test runs a redis-server of its own, so the stack's Redis is left alone.
 */
jest.setTimeout(60_000);
// The bounds below are multiples of it: a read that waits for Redis twice takes 2× and fails the
// 1.5× bound whatever the timeout. 1 s, not 500 ms: the half timeout left to the PostgreSQL read
// and the gRPC round trip (and to four reads together) is what a loaded CI machine needs.
const COMMAND_TIMEOUT_MS = 1000;
const newAccount = accountsDeletedAfterAll();
let redisServer: ChildProcess | undefined;
let t: TestServer | undefined;

beforeAll(async () => {
  const port = await freePort();
  redisServer = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  await waitFor(() => spawnSync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), 'PING'], { encoding: 'utf8', timeout: 2000 }).stdout?.trim() === 'PONG', 10_000, 'own redis-server answers PING');
  // A long breaker wait: no half-open probe while the test runs.
  t = await startTestServer({ REDIS_URL: `redis://127.0.0.1:${port}`, REDIS_COMMAND_TIMEOUT_MS: String(COMMAND_TIMEOUT_MS), REDIS_BREAKER_FAILURE_THRESHOLD: '3', REDIS_BREAKER_OPEN_MS: '60000' });
});
afterAll(async () => {
  // Thawed first, so the server's shutdown does not wait on a frozen Redis.
  if (redisServer?.pid !== undefined) process.kill(redisServer.pid, 'SIGCONT');
  await t?.close();
  redisServer?.kill('SIGKILL');
});

it('a connected Redis that stops answering: reads wait at most the command timeout, then the breaker (or a replaced connection) stops them waiting; writes are unaffected', async () => {
  const server = t!;
  const accounts = Array.from({ length: 8 }, () => newAccount());
  const written = new Map<string, AccountSettings>();
  for (const a of accounts) written.set(a, await server.call('updateAccountSettings', { accountSettings: AccountSettings.fromPartial({ name: `accounts/${a}/settings`, displayName: `before ${a}` }), allowMissing: true }));
  // Redis works and is trusted: a read fills, the next one is a hit.
  await waitFor(() => server.running.redis.status === 'ready', 10_000, 'service connected to its Redis');
  const warm = accounts[0]!;
  await waitFor(
    async () => {
      await server.call('getAccountSettings', { name: `accounts/${warm}/settings` });
      return (await metricValue(server.running, 'settings_cache_requests_total', { result: 'hit' })) > 0;
    },
    10_000,
    'a cache hit',
  );

  process.kill(redisServer!.pid!, 'SIGSTOP');
  const fallbackBefore = await metricValue(server.running, 'settings_cache_fallback_total');
  expect(await metricValue(server.running, 'settings_redis_circuit_open')).toBe(0);

  // A save while the breaker is still closed and Redis hangs: the write path never waits for
  // Redis (checked again below, with the breaker open, where it would not ask Redis anyway).
  const savedFirst = Date.now();
  await server.call('updateAccountSettings', { accountSettings: AccountSettings.fromPartial({ name: `accounts/${warm}/settings`, displayName: 'first save while Redis hung' }), allowMissing: false });
  expect(Date.now() - savedFirst).toBeLessThan(COMMAND_TIMEOUT_MS);
  expect(await metricValue(server.running, 'settings_redis_circuit_open')).toBe(0);

  // Cold keys, one at a time: each needs Redis, which no longer answers.
  const took: number[] = [];
  for (const a of accounts.slice(1)) {
    const t0 = Date.now();
    expect(await server.call('getAccountSettings', { name: `accounts/${a}/settings` })).toEqual(written.get(a));
    took.push(Date.now() - t0);
  }
  // Every read was answered from PostgreSQL; none waited much longer than one command timeout.
  expect(await metricValue(server.running, 'settings_cache_fallback_total')).toBeGreaterThanOrEqual(fallbackBefore + took.length);
  // "At most the command timeout" (README) plus the PostgreSQL read that follows it: 1.5× (a
  // second wait for Redis, as a retried command or an awaited fill would add, is 2×).
  process.stderr.write(`[measure] reads with Redis frozen: ${took.join(', ')} ms (command timeout ${COMMAND_TIMEOUT_MS} ms)\n`);
  for (const ms of took) expect(ms).toBeLessThan(COMMAND_TIMEOUT_MS * 1.5);
  // The reads after the first few did not wait for Redis: the last four together took less
  // than one command timeout would have cost one of them. Either the breaker opened, or a
  // heartbeat replaced the connection first (the near-cache's, whose once-a-second check of the
  // data connection timed out; or the data connections' own PING, after 3 s), and its successor
  // is not ready while Redis is frozen, so reads go to PostgreSQL without asking it. Which comes
  // first depends on this machine's timing.
  const open = await metricValue(server.running, 'settings_redis_circuit_open');
  expect(open === 1 || server.running.redis.status !== 'ready').toBe(true);
  expect(took.slice(-4).reduce((s, ms) => s + ms, 0)).toBeLessThan(COMMAND_TIMEOUT_MS);

  // A save goes to PostgreSQL only, and the next read (breaker open) returns it.
  const saved = await server.call('updateAccountSettings', { accountSettings: AccountSettings.fromPartial({ name: `accounts/${warm}/settings`, displayName: 'saved while Redis hung' }), allowMissing: false });
  expect(saved.displayName).toBe('saved while Redis hung');
  expect((await server.call('getAccountSettings', { name: `accounts/${warm}/settings` })).displayName).toBe('saved while Redis hung');
});

it('after Redis answers again, a probe once REDIS_BREAKER_OPEN_MS has passed closes the breaker and reads are served from the cache again', async () => {
  const OPEN_MS = 3000;
  // A server of its own, with a short breaker wait, on the same redis-server (thawed first if the
  // test above left it frozen). A 400 ms command timeout: the three reads that open the breaker
  // then take ~1.2 s, well before the heartbeat would replace the connection (3 s of unanswered
  // PINGs), which is not what this test is about.
  process.kill(redisServer!.pid!, 'SIGCONT');
  const server = await startTestServer({ REDIS_URL: t!.config.REDIS_URL, REDIS_COMMAND_TIMEOUT_MS: '400', REDIS_BREAKER_FAILURE_THRESHOLD: '3', REDIS_BREAKER_OPEN_MS: String(OPEN_MS) });
  try {
    const accounts = Array.from({ length: 4 }, () => newAccount());
    for (const a of accounts) await server.call('updateAccountSettings', { accountSettings: AccountSettings.fromPartial({ name: `accounts/${a}/settings`, displayName: `row ${a}` }), allowMissing: true });
    await waitFor(() => server.running.redis.status === 'ready', 10_000, 'service connected to its Redis');
    const hits = () => metricValue(server.running, 'settings_cache_requests_total', { space: 'account-settings', result: 'hit' });
    const warm = `accounts/${accounts[0]}/settings`;
    await waitFor(async () => (await server.call('getAccountSettings', { name: warm }), (await hits()) > 0), 10_000, 'a cache hit');

    // Frozen: three reads that need Redis fail there and open the breaker.
    process.kill(redisServer!.pid!, 'SIGSTOP');
    for (const a of accounts.slice(1)) await server.call('getAccountSettings', { name: `accounts/${a}/settings` });
    // Taken after the breaker opened (inside the last read, which then went to PostgreSQL): the
    // wait measured from here may be a few ms short of the breaker's own (seen: 2,999 ms).
    const openedAt = Date.now();
    expect(await metricValue(server.running, 'settings_redis_circuit_open')).toBe(1);
    process.kill(redisServer!.pid!, 'SIGCONT');

    // Open: reads come from PostgreSQL without asking Redis, although it answers again.
    const hitsWhileOpen = await hits();
    expect((await server.call('getAccountSettings', { name: warm })).displayName).toBe(`row ${accounts[0]}`);
    // Skipped when the machine is too slow: the read then ran past OPEN_MS and may have probed.
    if (Date.now() - openedAt < OPEN_MS) expect(await hits()).toBe(hitsWhileOpen);

    // Past the wait, the next read is the probe: it succeeds, the breaker closes, reads hit the cache.
    await waitFor(
      async () => {
        await server.call('getAccountSettings', { name: warm });
        return (await metricValue(server.running, 'settings_redis_circuit_open')) === 0;
      },
      OPEN_MS + 10_000,
      'the breaker closed after its probe',
    );
    expect(Date.now() - openedAt).toBeGreaterThanOrEqual(OPEN_MS - 50);
    const hitsAfter = await hits();
    await waitFor(async () => (await server.call('getAccountSettings', { name: warm }), (await hits()) > hitsAfter), 5000, 'a cache hit after the breaker closed');
  } finally {
    process.kill(redisServer!.pid!, 'SIGCONT');
    await server.close();
  }
});
