import { Partitioners } from 'kafkajs';
import { cacheKeys, changeTopic, createLogger, localStack, parseCacheValue, withCacheScripts, type CacheValue } from '@settings/shared';
import { ChangeTopicReader, localKafka, withAdmin } from '@settings/local-stack';
import { RedisEvictor, type ApplyHooks } from '../../src/eviction/redis-evictor';
import { createInvalidatorMetrics } from '../../src/metrics';
import { deleteKeys, fencedAtLeast, readCache, startTestInvalidator, testRedis, uniqueId, waitFor } from '../support/test-invalidator';
import type { RunningInvalidator } from '../../src/invalidator';

/**
 * Evictions go to Redis as evict-to-marker-batch calls of many keys, and batches of several
 * partitions are applied at once. Neither may weaken a guarantee: every key inside one call
 * keeps its own version fence, a poison event inside a batch still goes to the dead-letter
 * topic, and a partition's offset is committed only after the evictions of its own events.
 */
jest.setTimeout(120_000);

const redis = testRedis();
const topic = changeTopic(localStack.topicPrefix, 'account_settings');
const kafka = localKafka('batched-eviction-test');
const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });

beforeAll(() => producer.connect());
afterAll(async () => {
  await producer.disconnect();
  redis.disconnect();
});

/** A Debezium update envelope as the connector writes it (only what the invalidator reads). */
function updateEvent(account: string, version: number): string {
  return JSON.stringify({ op: 'u', before: null, after: { account_id: account, version }, source: { schema: 'public', table: 'account_settings', ts_ms: Date.now() } });
}

const noHooks: ApplyHooks = { heartbeat: async () => undefined, shouldAbort: () => false, onRedisDown: () => undefined, onRedisUp: () => undefined };

describe('one script call, many keys', () => {
  it('each key inside a batch is fenced by its own floor: newer entries and higher markers are left alone', async () => {
    const filler = withCacheScripts(testRedis());
    const id = uniqueId('batch-fence-');
    const keys = Array.from({ length: 60 }, (_, i) => cacheKeys.accountSettings(`${id}-${i}`).key);
    // Four kinds of key, interleaved so every call of 7 keys mixes them; every floor is 5.
    //   i%4 0: entry v10 (newer than the change: keep)   1: entry v3 (older: marker 5)
    //       2: marker 7 (higher: keep)                   3: nothing cached (marker 5)
    for (const [i, key] of keys.entries()) {
      if (i % 4 === 0) await filler.versionedFill(key, '10', '1', 60_000, Buffer.from('{}'), 600_000);
      if (i % 4 === 1) await filler.versionedFill(key, '3', '1', 60_000, Buffer.from('{}'), 600_000);
      if (i % 4 === 2) await filler.set(key, 'm|7', 'PX', 60_000);
    }
    const evictor = new RedisEvictor(
      redis,
      { maxKeysPerSecond: 0, maxInflightPipelines: 2, pipelineKeys: 20, scriptBatchKeys: 7, latencyTargetMs: 1000, redisBusyCpuFraction: 0, markerTtlMs: 60_000 },
      createInvalidatorMetrics(),
    );
    const { written } = await evictor.apply(keys.map((key) => ({ key, floor: 5n })), [], noHooks);

    const after = await Promise.all(keys.map((key) => readCache(redis, key)));
    const expected = (i: number): CacheValue['kind'] | 'marker 5' | 'marker 7' => (i % 4 === 0 ? 'entry' : i % 4 === 2 ? 'marker 7' : 'marker 5');
    const seen = after.map((v) => (v?.kind === 'marker' ? `marker ${v.floor}` : v?.kind));
    expect(seen).toEqual(keys.map((_, i) => expected(i)));
    expect(after.filter((v, i) => i % 4 === 0 && v?.kind === 'entry' && v.version === 10n)).toHaveLength(15);
    // Only the keys that needed a marker count as written.
    expect(written).toBe(30);
    await deleteKeys(redis, keys);
    filler.disconnect();
  });
});

describe('through Kafka', () => {
  let inv: RunningInvalidator & { config: { DLQ_TOPIC: string; KAFKA_GROUP_ID: string } };
  afterEach(async () => {
    await inv?.stop();
  });

  it('a poison event inside a batch goes to the dead-letter topic and every other key of the batch is fenced', async () => {
    inv = await startTestInvalidator({ REDIS_EVICTION_BATCH_KEYS: '16' });
    const dlq = new ChangeTopicReader(inv.config.DLQ_TOPIC);
    await dlq.start();
    try {
      const id = uniqueId('batch-poison-');
      const accounts = Array.from({ length: 200 }, (_, i) => `${id}-${i}`);
      const messages = accounts.map((a, i) => ({ key: JSON.stringify({ account_id: a }), value: updateEvent(a, 1000 + i), partition: 0 }));
      // One send to one partition: the poison lands in the middle of the batch.
      messages.splice(100, 0, { key: JSON.stringify({ account_id: `${id}-poison` }), value: '{"op":"u","before":null,"after":{"account_id":"x}:evil","version":3},"source":{"schema":"public","table":"account_settings","ts_ms":1}}', partition: 0 });
      await producer.send({ topic, messages });

      const { message } = await dlq.waitFor((_v, m) => m.key?.toString() === JSON.stringify({ account_id: `${id}-poison` }), 30_000);
      expect(message.headers?.['dlq.reason']?.toString()).toMatch(/account_id/);
      await waitFor(
        async () => {
          const values = await Promise.all(accounts.map((a) => redis.getBuffer(cacheKeys.accountSettings(a).key)));
          return values.every((v, i) => fencedAtLeast(parseCacheValue(v), BigInt(1000 + i)));
        },
        30_000,
        'every key of the batch fenced at its own version',
      );
      await deleteKeys(redis, accounts.map((a) => cacheKeys.accountSettings(a).key));
    } finally {
      await dlq.stop();
    }
  });

  it('partitions are applied concurrently, and each commits only past events whose keys are evicted', async () => {
    // Slow enough (600 keys at 600 keys/s, small chunks) to watch commits move on 3 partitions.
    inv = await startTestInvalidator({ EVICTION_MAX_KEYS_PER_SECOND: '600', REDIS_LATENCY_TARGET_MS: '2000', BATCH_CHUNK_SIZE: '20', REDIS_PIPELINE_SIZE: '20', KAFKA_PARTITIONS_CONCURRENTLY: '3' });
    const id = uniqueId('batch-parts-');
    const perPartition = 200;
    // partition → the cache key of each event, in offset order, from the event's baseOffset.
    const events = new Map<number, { base: bigint; keys: string[] }>();
    const messages = [];
    for (let p = 0; p < 3; p++) {
      const keys: string[] = [];
      for (let i = 0; i < perPartition; i++) {
        const account = `${id}-${p}-${i}`;
        keys.push(cacheKeys.accountSettings(account).key);
        messages.push({ key: JSON.stringify({ account_id: account }), value: updateEvent(account, 50), partition: p });
      }
      events.set(p, { base: -1n, keys });
    }
    const meta = await producer.send({ topic, messages });
    for (const m of meta) events.get(m.partition)!.base = BigInt(m.baseOffset!);

    let violations: string[] = [];
    let sawConcurrent = false;
    let finished = false;
    const log = createLogger('batched-eviction-test', 'warn');
    await withAdmin('batched-eviction-test', async (admin) => {
      for (const deadline = Date.now() + 60_000; Date.now() < deadline; ) {
        // Committed offsets first, Redis second: a commit is only made after its evictions, so
        // every event below an offset read here must already show as a marker.
        const committed = (await admin.fetchOffsets({ groupId: inv.config.KAFKA_GROUP_ID, topics: [topic] }))[0]!.partitions;
        const progress: number[] = [];
        for (const [p, { base, keys }] of events) {
          const offset = BigInt(committed.find((c) => c.partition === p)?.offset ?? '-1');
          const done = offset < base ? 0 : Math.min(keys.length, Number(offset - base));
          progress.push(done);
          if (done === 0) continue;
          // One GET per key: a Redis Cluster refuses an MGET across slots.
          const values = await Promise.all(keys.slice(0, done).map((key) => redis.getBuffer(key)));
          const missing = values.findIndex((v) => !fencedAtLeast(parseCacheValue(v), 50n));
          if (missing >= 0) violations.push(`partition ${p}: committed past event ${missing} whose key is not evicted`);
        }
        if (progress.filter((d) => d > 0 && d < perPartition).length >= 2) sawConcurrent = true;
        if (progress.every((d) => d === perPartition)) {
          finished = true;
          break;
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    });
    if (violations.length > 0) log.error({ violations }, 'commit before eviction');
    expect(violations).toEqual([]);
    expect(sawConcurrent).toBe(true);
    // Every partition committed to its end: one that stopped partway would pass the checks above.
    expect(finished).toBe(true);
    violations = [];
    await deleteKeys(redis, [...events.values()].flatMap((e) => e.keys));
  });
});
