import { randomBytes } from 'node:crypto';
import Redis, { Cluster } from 'ioredis';
import { cacheKeys, evictToMarkerNodeBatchArgs, keySlot, localRedisClusterNodes, localRedisUrl, parseCacheValue, parseHostPort, withCacheScripts, withEvictToMarkerBatch } from '../../src';

/**
 * The fence, against a real Redis: the two Lua scripts decide every interleaving of a fill and
 * an eviction. Each test uses its own account id, so tests never see each other's keys.
 * Runs twice: on the single Redis, and in the jest project `cluster` on the three-master Redis
 * Cluster (SETTINGS_TEST_REDIS=cluster), where every script's keys must share a slot.
 */
const onCluster = process.env.SETTINGS_TEST_REDIS === 'cluster';
const redis = withEvictToMarkerBatch(withCacheScripts(onCluster ? new Cluster(localRedisClusterNodes.split(',').map((n) => parseHostPort(n))) : new Redis(localRedisUrl)));
const TTL = 60_000;
const account = (): string => `t${randomBytes(6).toString('hex')}`;

afterAll(() => redis.quit());

async function read(key: string) {
  return parseCacheValue(await redis.getBuffer(key));
}

describe('versioned fill and marker eviction (Lua, real Redis)', () => {
  it('a fill stores an entry with its version, generation and payload', async () => {
    const { key } = cacheKeys.accountSettings(account());
    expect(await redis.versionedFill(key, '5', '0', TTL, Buffer.from('v5'))).toBe(1);
    expect(await read(key)).toEqual({ kind: 'entry', version: 5n, generation: 0n, payload: Buffer.from('v5') });
  });

  it('a slow reader cannot put an old version back after the eviction of a newer write', async () => {
    const { key } = cacheKeys.accountSettings(account());
    // 1. reader A loads version 5 from the database and stalls before filling
    // 2. a write commits version 6; the invalidator evicts with floor 6
    expect(await redis.evictToMarker(key, '6', TTL)).toBe(1);
    // 3. reader A resumes and tries to fill version 5: fenced
    expect(await redis.versionedFill(key, '5', '0', TTL, Buffer.from('old'))).toBe(0);
    expect(await read(key)).toEqual({ kind: 'marker', floor: 6n });
    // 4. a reader that loaded version 6 fills normally
    expect(await redis.versionedFill(key, '6', '0', TTL, Buffer.from('new'))).toBe(1);
    expect((await read(key))?.kind).toBe('entry');
  });

  it('a fill never replaces a newer entry of the same generation', async () => {
    const { key } = cacheKeys.onPatientSettings(account());
    await redis.versionedFill(key, '9', '0', TTL, Buffer.from('nine'));
    expect(await redis.versionedFill(key, '8', '0', TTL, Buffer.from('eight'))).toBe(0);
    expect(await redis.versionedFill(key, '9', '0', TTL, Buffer.from('nine again'))).toBe(0);
    expect(await read(key)).toMatchObject({ version: 9n, payload: Buffer.from('nine') });
  });

  it('a fill of another generation replaces an entry, whichever is older: generations are random, readers compare', async () => {
    const { key } = cacheKeys.onPatientSettings(account());
    await redis.versionedFill(key, '9', '1111', TTL, Buffer.from('before truncate'));
    // A fill under the new generation replaces the orphaned entry even with a lower version.
    expect(await redis.versionedFill(key, '3', '2222', TTL, Buffer.from('after truncate'))).toBe(1);
    // A late fill from before the truncate replaces it back: a miss for every reader of
    // generation 2222 (they compare), never a served stale value; the next fill restores it.
    expect(await redis.versionedFill(key, '9', '1111', TTL, Buffer.from('late'))).toBe(1);
    expect(await read(key)).toMatchObject({ generation: 1111n });
    expect(await redis.versionedFill(key, '3', '2222', TTL, Buffer.from('after truncate'))).toBe(1);
    // Within one generation the version still decides.
    expect(await redis.versionedFill(key, '2', '2222', TTL, Buffer.from('older'))).toBe(0);
  });

  it('an eviction leaves an entry that already holds the change (or a newer one) alone', async () => {
    const { key } = cacheKeys.doctorSettings(account(), 'dr-1');
    await redis.versionedFill(key, '10', '0', TTL, Buffer.from('ten'));
    expect(await redis.evictToMarker(key, '10', TTL)).toBe(0);
    expect(await redis.evictToMarker(key, '7', TTL)).toBe(0);
    expect(await redis.evictToMarker(key, '11', TTL)).toBe(1);
  });

  it('replaying an old eviction never lowers a marker (Debezium is at-least-once)', async () => {
    const { key } = cacheKeys.staffPermission(account(), 's1');
    await redis.evictToMarker(key, '20', TTL);
    expect(await redis.evictToMarker(key, '15', TTL)).toBe(0);
    expect(await read(key)).toEqual({ kind: 'marker', floor: 20n });
    expect(await redis.versionedFill(key, '19', '0', TTL, Buffer.from('x'))).toBe(0);
  });

  it('entries and markers carry the TTL they were given', async () => {
    const { key } = cacheKeys.staffPermissionList(account());
    await redis.evictToMarker(key, '1', 5_000);
    const pttl = await redis.pttl(key);
    expect(pttl).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(5_000);
  });
});

(onCluster ? describe : describe.skip)('evict-to-marker-node-batch (Redis Cluster)', () => {
  const cluster = redis as unknown as Cluster & typeof redis;
  const masterOf = (key: string): string => cluster.slots[keySlot(key)]![0]!;
  /** Accounts whose settings keys sit on `master`, in different slots. */
  const keysOn = (master: string, n: number): string[] => {
    const keys: string[] = [];
    while (keys.length < n) {
      const { key } = cacheKeys.accountSettings(account());
      if (masterOf(key) === master && !keys.some((k) => keySlot(k) === keySlot(key))) keys.push(key);
    }
    return keys;
  };

  it('fences keys of many slots of one master in one call, each by its own floor', async () => {
    const master = masterOf(cacheKeys.accountSettings(account()).key);
    const [newer, older, empty] = keysOn(master, 3) as [string, string, string];
    await redis.versionedFill(newer, '9', '0', TTL, Buffer.from('nine'));
    await redis.versionedFill(older, '3', '0', TTL, Buffer.from('three'));
    const markers = [newer, older, empty].map((key) => ({ key, floor: 5n }));
    expect(await redis.evictToMarkerNodeBatch(...evictToMarkerNodeBatchArgs(markers, TTL))).toBe(2);
    expect(await read(newer)).toMatchObject({ kind: 'entry', version: 9n });
    expect(await read(older)).toEqual({ kind: 'marker', floor: 5n });
    expect(await read(empty)).toEqual({ kind: 'marker', floor: 5n });
  });

  it('refuses a key another master serves (a stale slot map) and writes nothing on the wrong master', async () => {
    const here = masterOf(cacheKeys.accountSettings(account()).key);
    const [local] = keysOn(here, 1) as [string];
    let foreign = cacheKeys.accountSettings(account()).key;
    while (masterOf(foreign) === here) foreign = cacheKeys.accountSettings(account()).key;
    await expect(redis.evictToMarkerNodeBatch(...evictToMarkerNodeBatchArgs([{ key: local, floor: 4n }, { key: foreign, floor: 4n }], TTL))).rejects.toThrow(/non local key/);
    expect(await read(foreign)).toBeUndefined();
  });
});
