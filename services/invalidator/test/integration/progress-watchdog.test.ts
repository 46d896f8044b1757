import { changeTopic, createLogger, localStack } from '@settings/shared';
import { localKafka } from '@settings/local-stack';
import { createInvalidatorMetrics } from '../../src/metrics';
import { ProgressWatchdog } from '../../src/consumer/progress-watchdog';
import { positionGroupAtEnd, sql, uniqueId, waitFor } from '../support/test-invalidator';

/**
 * Liveness that notices what used to fail silently: a consumer that sits on lag with a healthy
 * Redis and commits nothing.
 */
jest.setTimeout(120_000);
const kafka = localKafka('health-test');
const accountTopic = changeTopic(localStack.topicPrefix, 'account_settings');
const prefix = uniqueId('live');
afterAll(() => sql('DELETE FROM account_settings WHERE account_id LIKE $1', [`${prefix}-%`]));

describe('progress watchdog (liveness), against real Kafka offsets', () => {
  it('fails liveness only when its partitions have lag, Redis is healthy and nothing is committed', async () => {
    const groupId = uniqueId('wedged-');
    await positionGroupAtEnd(groupId, [accountTopic]);
    let redisHealthy = false;
    let deadLettersFailing = false;
    const admin = kafka.admin();
    const watchdog = new ProgressWatchdog(
      admin,
      { groupId, stallMs: 1000, checkIntervalMs: 60_000 },
      { assignment: () => ({ [accountTopic]: [0, 1, 2] }), redisHealthy: () => redisHealthy, deadLettersFailing: () => deadLettersFailing },
      createInvalidatorMetrics(),
      createLogger('test', 'silent'),
    );
    await watchdog.start();
    // One clock that only moves forward, by what each step says: with Date.now() read again for
    // the second phase, it started only the insert's second or so after the first phase's last
    // check, and a watchdog that ignored a Redis outage stayed live through it anyway.
    let now = Date.now();
    const after = (ms: number): number => (now += ms);
    try {
      // No lag: alive however long nothing happens.
      await watchdog.check(after(0));
      await watchdog.check(after(5000));
      expect(watchdog.live).toBe(true);

      // Lag appears (rows change, nobody in this group consumes them).
      await sql('INSERT INTO account_settings (account_id) SELECT unnest($1::text[])', [Array.from({ length: 30 }, (_, i) => `${prefix}-${i}`)]);
      const admin2 = kafka.admin();
      await admin2.connect();
      await waitFor(async () => {
        const [ends, [committed]] = await Promise.all([admin2.fetchTopicOffsets(accountTopic), admin2.fetchOffsets({ groupId, topics: [accountTopic] })]);
        return ends.some((e) => BigInt(e.high) > BigInt(committed!.partitions.find((p) => p.partition === e.partition)!.offset));
      }, 30_000, 'lag on the group');
      await admin2.disconnect();

      // Lag while Redis is down is the designed pause: alive, however long.
      await watchdog.check(after(1));
      await watchdog.check(after(5000));
      expect(watchdog.live).toBe(true);

      // Lag while a partition waits for the dead-letter topic to take its poison events is known
      // and reported (not ready, alert), and a restart would not cure it: alive.
      redisHealthy = true;
      deadLettersFailing = true;
      await watchdog.check(after(1000));
      await watchdog.check(after(2000));
      expect(watchdog.live).toBe(true);

      // Lag, Redis healthy, no commit for longer than stallMs: wedged.
      deadLettersFailing = false;
      await watchdog.check(after(1000));
      expect(watchdog.live).toBe(true);
      await watchdog.check(after(2000));
      expect(watchdog.live).toBe(false);

      // Progress (offsets committed to the end) makes it live again.
      await positionGroupAtEnd(groupId, [accountTopic]);
      await watchdog.check(after(1000));
      expect(watchdog.live).toBe(true);
    } finally {
      await watchdog.stop();
    }
  });
});
