import { randomBytes } from 'node:crypto';
import Redis, { Cluster } from 'ioredis';
import { cacheKeys, localRedisClusterNodes, localRedisUrl, parseCacheValue, parseHostPort, withCacheScripts } from '../../src';

/**
 * The fence, against a real Redis: the two Lua scripts decide every interleaving of a fill and
 * an eviction. Each test uses its own account id, so tests never see each other's keys.
 * Runs twice: on the single Redis, and in the jest project `cluster` on the three-master Redis
 * Cluster (SETTINGS_TEST_REDIS=cluster), where every script's keys must share a slot.
 */
const redis = withCacheScripts(
  process.env.SETTINGS_TEST_REDIS === 'cluster' ? new Cluster(localRedisClusterNodes.split(',').map((n) => parseHostPort(n))) : new Redis(localRedisUrl),
);
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
