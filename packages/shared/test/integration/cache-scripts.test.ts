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
    expect(await redis.versionedFill(key, '5', '0', TTL, Buffer.from('v5'), TTL)).toBe(1);
    expect(await read(key)).toEqual({ kind: 'entry', version: 5n, generation: 0n, payload: Buffer.from('v5') });
  });

  it('a slow reader cannot put an old version back after the eviction of a newer write', async () => {
    const { key } = cacheKeys.accountSettings(account());
    // 1. reader A loads version 5 from the database and stalls before filling
    // 2. a write commits version 6; the invalidator evicts with floor 6
    expect(await redis.evictToMarker(key, '6', TTL)).toBe(1);
    // 3. reader A resumes and tries to fill version 5: fenced
    expect(await redis.versionedFill(key, '5', '0', TTL, Buffer.from('old'), TTL)).toBe(0);
    expect(await read(key)).toEqual({ kind: 'marker', floor: 6n });
    // 4. a reader that loaded version 6 fills normally
    expect(await redis.versionedFill(key, '6', '0', TTL, Buffer.from('new'), TTL)).toBe(1);
    expect((await read(key))?.kind).toBe('entry');
  });

  it('a fill never replaces a newer entry of the same generation', async () => {
    const { key } = cacheKeys.onPatientSettings(account());
    await redis.versionedFill(key, '9', '0', TTL, Buffer.from('nine'), TTL);
    expect(await redis.versionedFill(key, '8', '0', TTL, Buffer.from('eight'), TTL)).toBe(0);
    expect(await redis.versionedFill(key, '9', '0', TTL, Buffer.from('nine again'), TTL)).toBe(0);
    expect(await read(key)).toMatchObject({ version: 9n, payload: Buffer.from('nine') });
  });

  it('a fill of another generation replaces an entry of the same or an older version: generations are random, readers compare', async () => {
    const { key } = cacheKeys.onPatientSettings(account());
    await redis.versionedFill(key, '3', '1111', TTL, Buffer.from('before truncate'), TTL);
    // A fill under the new generation replaces the orphaned entry.
    expect(await redis.versionedFill(key, '9', '2222', TTL, Buffer.from('after truncate'), TTL)).toBe(1);
    // A late fill of the same version from before the truncate replaces it back: a miss for
    // every reader of generation 2222 (they compare), never a served stale value.
    expect(await redis.versionedFill(key, '9', '1111', TTL, Buffer.from('late'), TTL)).toBe(1);
    expect(await read(key)).toMatchObject({ generation: 1111n });
    expect(await redis.versionedFill(key, '9', '2222', TTL, Buffer.from('after truncate'), TTL)).toBe(1);
    // Within one generation the version decides.
    expect(await redis.versionedFill(key, '9', '2222', TTL, Buffer.from('again'), TTL)).toBe(0);
  });

  it('a fill that yields to the same version (Watch re-reads) leaves another generation\'s entry of that version alone, and nothing else changes', async () => {
    const { key } = cacheKeys.accountSettings(account());
    await redis.versionedFill(key, '9', '1111', TTL, Buffer.from('other release'), TTL);
    // Same version, another generation (another release's payload format): refused, not touched.
    expect(await redis.versionedFill(key, '9', '2222', TTL, Buffer.from('mine'), TTL, '1')).toBe(0);
    expect(await read(key)).toEqual({ kind: 'entry', version: 9n, generation: 1111n, payload: Buffer.from('other release') });
    // An older entry of another generation is still replaced, a newer one still fences (a marker).
    expect(await redis.versionedFill(key, '10', '2222', TTL, Buffer.from('newer'), TTL, '1')).toBe(1);
    expect(await redis.versionedFill(key, '9', '1111', TTL, Buffer.from('older'), TTL, '1')).toBe(0);
    expect(await read(key)).toEqual({ kind: 'marker', floor: 10n });
  });

  describe('a generation change never lifts a fence: a fill older than an entry of another generation is refused and leaves a marker at that version', () => {
    // The interleaving (versioned-fill.lua): 1. S reads generation G1; 2. the generation
    // becomes G2 (TRUNCATE, incarnation renewal); 3. R reads G2 and loads v10; 4. v12 commits,
    // the invalidator writes m|12; 5. S loads v12 and fills it under G1; 6. R fills v10 under G2.
    const G1 = '1111';
    const G2 = '2222';

    it('when the marker came first and the old generation\'s fill replaced it', async () => {
      const { key } = cacheKeys.accountSettings(account());
      expect(await redis.evictToMarker(key, '12', TTL)).toBe(1); // 4.
      expect(await redis.versionedFill(key, '12', G1, TTL, Buffer.from('v12'), TTL)).toBe(1); // 5.
      expect(await redis.versionedFill(key, '10', G2, TTL, Buffer.from('v10'), 5_000)).toBe(0); // 6.
      expect(await read(key)).toEqual({ kind: 'marker', floor: 12n });
      const pttl = await redis.pttl(key);
      expect(pttl).toBeGreaterThan(0);
      expect(pttl).toBeLessThanOrEqual(5_000); // a marker's lifetime, not the entry's
      // A reader of G2 that loaded v12 fills normally.
      expect(await redis.versionedFill(key, '12', G2, TTL, Buffer.from('v12'), TTL)).toBe(1);
      expect(await read(key)).toMatchObject({ kind: 'entry', version: 12n, generation: 2222n });
    });

    it('when the old generation\'s entry was there first and the marker found it fenced', async () => {
      const { key } = cacheKeys.accountSettings(account());
      expect(await redis.versionedFill(key, '12', G1, TTL, Buffer.from('v12'), TTL)).toBe(1); // 5.
      expect(await redis.evictToMarker(key, '11', TTL)).toBe(0); // 4., late: the entry holds it
      expect(await redis.evictToMarker(key, '12', TTL)).toBe(0);
      expect(await redis.versionedFill(key, '10', G2, TTL, Buffer.from('v10'), TTL)).toBe(0); // 6.
      expect(await read(key)).toEqual({ kind: 'marker', floor: 12n });
    });

    it('for an absence loaded before the row was created', async () => {
      const { key } = cacheKeys.accountSettings(account());
      expect(await redis.evictToMarker(key, '7', TTL)).toBe(1); // the creation's marker
      expect(await redis.versionedFill(key, '7', G1, TTL, Buffer.from('v7'), TTL)).toBe(1);
      expect(await redis.versionedFill(key, '0', G2, TTL, Buffer.alloc(0), TTL)).toBe(0); // R's absence
      expect(await read(key)).toEqual({ kind: 'marker', floor: 7n });
    });

    it('with versions of 10^14 and more (a sequence moved on by restores), the marker holds the exact version', async () => {
      const { key } = cacheKeys.accountSettings(account());
      const v = (d: number): string => (100_000_000_000_012n + BigInt(d)).toString();
      expect(await redis.evictToMarker(key, v(0), TTL)).toBe(1);
      expect(await redis.versionedFill(key, v(0), G1, TTL, Buffer.from('new'), TTL)).toBe(1);
      expect(await redis.versionedFill(key, v(-2), G2, TTL, Buffer.from('old'), TTL)).toBe(0);
      expect((await redis.get(key))).toBe(`m|${v(0)}`);
      // A second late fill of the old row is still refused by that marker.
      expect(await redis.versionedFill(key, v(-2), G2, TTL, Buffer.from('old'), TTL)).toBe(0);
      expect(await read(key)).toEqual({ kind: 'marker', floor: BigInt(v(0)) });
    });

    it('when the late fill is the old generation\'s (non-guarantee 12): one miss, as before', async () => {
      const { key } = cacheKeys.accountSettings(account());
      expect(await redis.versionedFill(key, '7', G2, TTL, Buffer.from('v7'), TTL)).toBe(1);
      expect(await redis.versionedFill(key, '5', G1, TTL, Buffer.from('v5'), TTL)).toBe(0);
      expect(await read(key)).toEqual({ kind: 'marker', floor: 7n });
      expect(await redis.versionedFill(key, '7', G2, TTL, Buffer.from('v7'), TTL)).toBe(1);
    });
  });

  it('an eviction leaves an entry that already holds the change (or a newer one) alone', async () => {
    const { key } = cacheKeys.doctorSettings(account(), 'dr-1');
    await redis.versionedFill(key, '10', '0', TTL, Buffer.from('ten'), TTL);
    expect(await redis.evictToMarker(key, '10', TTL)).toBe(0);
    expect(await redis.evictToMarker(key, '7', TTL)).toBe(0);
    expect(await redis.evictToMarker(key, '11', TTL)).toBe(1);
  });

  it('replaying an old eviction never lowers a marker (Debezium is at-least-once)', async () => {
    const { key } = cacheKeys.staffPermission(account(), 's1');
    await redis.evictToMarker(key, '20', TTL);
    expect(await redis.evictToMarker(key, '15', TTL)).toBe(0);
    expect(await read(key)).toEqual({ kind: 'marker', floor: 20n });
    expect(await redis.versionedFill(key, '19', '0', TTL, Buffer.from('x'), TTL)).toBe(0);
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
    await redis.versionedFill(newer, '9', '0', TTL, Buffer.from('nine'), TTL);
    await redis.versionedFill(older, '3', '0', TTL, Buffer.from('three'), TTL);
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
