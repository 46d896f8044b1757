import Redis from 'ioredis';
import { RedisEvictor, type ApplyHooks } from '../../src/eviction/redis-evictor';
import { createInvalidatorMetrics } from '../../src/metrics';

/**
 * The evictor's round trips against a stand-in pipeline (pure logic: what it sends, not Redis).
 * The client is a real ioredis instance that never connects; only its pipeline is replaced.
 */
function evictorWithFakePipeline(failFirst: number) {
  const redis = new Redis({ lazyConnect: true, enableOfflineQueue: false });
  const trips: number[] = [];
  let execs = 0;
  const evictor = new RedisEvictor(
    redis,
    { maxKeysPerSecond: 50_000, maxInflightPipelines: 1, pipelineKeys: 1000, scriptBatchKeys: 100, latencyTargetMs: 20, redisBusyCpuFraction: 0, markerTtlMs: 60_000 },
    createInvalidatorMetrics(),
  );
  (redis as unknown as { pipeline: () => unknown }).pipeline = () => {
    let keys = 0;
    let calls = 0;
    const p = {
      evictToMarkerBatch: (count: number) => {
        keys += count;
        calls += 1;
        return p;
      },
      set: () => p,
      exec: async () => {
        trips.push(keys);
        execs += 1;
        if (execs <= failFirst) throw new Error('Command timed out');
        return Array.from({ length: calls }, () => [null, 0]);
      },
    };
    return p;
  };
  const hooks: ApplyHooks = { heartbeat: async () => undefined, shouldAbort: () => false, onRedisDown: () => undefined, onRedisUp: () => undefined };
  return { evictor, trips, hooks, close: () => redis.disconnect() };
}

it('after a failed round trip cuts the ceiling, the keys left are sent in trips sized to the new burst, the failed one included', async () => {
  const { evictor, trips, hooks, close } = evictorWithFakePipeline(1);
  const markers = Array.from({ length: 3000 }, (_, i) => ({ key: `v1:{acct:a${i}}:account-settings`, floor: 5n }));
  await evictor.apply(markers, [], hooks);
  close();
  // Planned at the hard maximum: 1,000-key trips (50 ms of 50,000 keys/s). The failure drops the
  // ceiling to its floor, 2,500 keys/s: a burst of 125 keys.
  expect(trips[0]).toBe(1000);
  expect(trips[1]).toBeLessThanOrEqual(125);
  expect(trips.slice(1).reduce((a, b) => a + b, 0)).toBe(3000);
});
