import type { Admin } from 'kafkajs';
import { createLogger } from '@settings/shared';
import { createInvalidatorMetrics } from '../../src/metrics';
import { ProgressWatchdog } from '../../src/consumer/progress-watchdog';

/**
 * invalidator_consumer_lag_messages describes only the partitions this member owns: a
 * partition that moved to another member in a rebalance must not keep its last lag here, or
 * a dashboard summing the gauge over replicas shows lag that never drains.
 */
describe('consumer lag gauge after a rebalance', () => {
  it('drops the series of a partition this member no longer owns and keeps the owned ones', async () => {
    const topic = 'settings.public.account_settings';
    // Offsets as Kafka would answer them: partition ends at 5000, nothing committed past 1000.
    const admin = {
      connect: async () => undefined,
      disconnect: async () => undefined,
      fetchTopicOffsets: async () => [0, 1].map((partition) => ({ partition, offset: '5000', high: '5000', low: '0' })),
      fetchOffsets: async () => [{ topic, partitions: [0, 1].map((partition) => ({ partition, offset: '1000', metadata: null })) }],
    } as unknown as Admin;
    let assignment: Record<string, number[]> = { [topic]: [0, 1] };
    const metrics = createInvalidatorMetrics();
    const watchdog = new ProgressWatchdog(
      admin,
      { groupId: 'g', stallMs: 60_000, checkIntervalMs: 60_000 },
      { assignment: () => assignment, redisHealthy: () => true, deadLettersFailing: () => false },
      metrics,
      createLogger('test', 'silent'),
    );
    const series = async () => (await metrics.consumerLag.get()).values.map((v) => `${v.labels.partition}=${v.value}`).sort();

    await watchdog.check();
    expect(await series()).toEqual(['0=4000', '1=4000']);

    assignment = { [topic]: [0] };
    await watchdog.check();
    expect(await series()).toEqual(['0=4000']);

    assignment = {};
    await watchdog.check();
    expect(await series()).toEqual([]);
  });
});

describe('progress watchdog when Kafka cannot be read', () => {
  it('a replica found stalled is live again (gauge 0) while its offsets cannot be read: the check cannot tell, so it is not wedged', async () => {
    const topic = 'settings.public.account_settings';
    let kafkaDown = false;
    const admin = {
      connect: async () => undefined,
      disconnect: async () => undefined,
      fetchTopicOffsets: async () => {
        if (kafkaDown) throw new Error('Connection error: ECONNREFUSED');
        return [{ partition: 0, offset: '5000', high: '5000', low: '0' }];
      },
      fetchOffsets: async () => [{ topic, partitions: [{ partition: 0, offset: '1000', metadata: null }] }],
    } as unknown as Admin;
    const metrics = createInvalidatorMetrics();
    const watchdog = new ProgressWatchdog(
      admin,
      { groupId: 'g', stallMs: 10_000, checkIntervalMs: 60_000 },
      { assignment: () => ({ [topic]: [0] }), redisHealthy: () => true, deadLettersFailing: () => false },
      metrics,
      createLogger('test', 'silent'),
    );
    const gauge = async () => (await metrics.secondsWithoutProgress.get()).values[0]?.value;
    await watchdog.check(0);
    await watchdog.check(20_000);
    expect(watchdog.live).toBe(false);
    expect(await gauge()).toBe(20);
    kafkaDown = true;
    await watchdog.check(30_000);
    expect(watchdog.live).toBe(true);
    expect(await gauge()).toBe(0);
  });
});
