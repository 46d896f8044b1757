import { cacheKeys, createLogger, fillLeaseKey, type CacheRedis } from '@settings/shared';
import { leaseOrWait, type FillLeaseResult, type LeaseWaitDeps } from '../../src/cache/fill-lease-wait';

/** leaseOrWait with a 500 ms lease and 25 ms polls, 10 s to go, nothing filled, against `redis`. */
function leaseOrWaitOn(keys: string[], redis: CacheRedis, deps: Partial<LeaseWaitDeps<string>> = {}): ReturnType<typeof leaseOrWait<string>> {
  return leaseOrWait<string>(keys, Date.now() + 10_000, { ttlMs: 500, pollMs: 25 }, {
    redis,
    log: createLogger('test', 'silent'),
    now: Date.now,
    readFilled: () => Promise.resolve(new Map<string, string>()),
    count: () => undefined,
    ...deps,
  });
}

/** Waiting for another replica's fill, against a Redis where that replica holds the lease and never fills. */
describe('leaseOrWait', () => {
  beforeEach(() => jest.useFakeTimers({ now: 1_000_000 }));
  afterEach(() => jest.useRealTimers());

  it('gives up at the deadline, not up to one poll interval after it', async () => {
    // The lease is someone else's (SET NX refused) and nothing is ever filled.
    const redis = { set: () => Promise.resolve(null) } as unknown as CacheRedis;
    const counted: FillLeaseResult[] = [];
    const deadline = Date.now() + 60;
    let gaveUpAt: number | undefined;
    const key = cacheKeys.accountSettings('a').key;
    const waiting = leaseOrWait([key], deadline, { ttlMs: 500, pollMs: 25 }, {
      redis,
      log: createLogger('test', 'silent'),
      now: Date.now,
      readFilled: () => Promise.resolve(new Map()),
      count: (r) => counted.push(r),
    }).then((split) => {
      gaveUpAt = Date.now();
      return split;
    });
    // Rounds at 0, 25 and 50 ms; the wait after the third ends at the deadline (60), not at 75.
    for (let i = 0; i < 100 && gaveUpAt === undefined; i += 1) await jest.advanceTimersByTimeAsync(1);
    expect((await waiting).load).toEqual([key]);
    expect(counted).toEqual(['gave_up']);
    expect(gaveUpAt).toBe(deadline);
  });

  it('hands over a key it holds the lease of at once, while another key of the read is still waited for', async () => {
    const [a, b] = [cacheKeys.accountSettings('a').key, cacheKeys.accountSettings('b').key];
    // a's lease is granted; b's is another replica's, which never fills.
    const redis = { set: (key: string) => Promise.resolve(key.includes('{acct:a}') ? 'OK' : null) } as unknown as CacheRedis;
    const counted: FillLeaseResult[] = [];
    const first = await leaseOrWaitOn([a, b], redis, { count: (r) => counted.push(r) });
    expect({ load: first.load, leases: first.leases.map((l) => l.key), waiting: first.rest !== undefined }).toEqual({ load: [a], leases: [fillLeaseKey(a)], waiting: true });
    const rest = first.rest!;
    await jest.advanceTimersByTimeAsync(2000);
    expect((await rest).load).toEqual([b]);
    expect(counted).toEqual(['acquired', 'gave_up']);
  });

  it('takes no lease for a read that was abandoned (its load failed), and releases one a round under way got', async () => {
    const [a, b] = [cacheKeys.accountSettings('a').key, cacheKeys.accountSettings('b').key];
    // a's lease is granted; b's is another replica's until it lapses, then every ask gets it.
    let bLapsed = false;
    const asked: string[] = [];
    const redis = {
      set: (key: string) => {
        asked.push(key);
        return Promise.resolve(key.includes('{acct:a}') || bLapsed ? 'OK' : null);
      },
      releaseFillLease: () => Promise.resolve(1),
    } as unknown as CacheRedis;
    let abandoned = false;
    const first = await leaseOrWaitOn([a, b], redis, { abandoned: () => abandoned });
    expect(first.load).toEqual([a]);
    // a's load fails: the read ends, b's lease lapses meanwhile.
    abandoned = true;
    bLapsed = true;
    const askedBefore = asked.length;
    await jest.advanceTimersByTimeAsync(100);
    const rest = await first.rest!;
    expect({ load: rest.load, leases: rest.leases, more: rest.rest }).toEqual({ load: [], leases: [], more: undefined });
    expect(asked.slice(askedBefore)).toEqual([]);
  });

  it('releases at once a lease won in a round that was under way when the read was abandoned', async () => {
    const a = cacheKeys.accountSettings('a').key;
    const released: string[] = [];
    let abandoned = false;
    const redis = {
      // The lease is granted, and the read is abandoned while the answer travels.
      set: () => {
        abandoned = true;
        return Promise.resolve('OK');
      },
      releaseFillLease: (key: string) => {
        released.push(key);
        return Promise.resolve(1);
      },
    } as unknown as CacheRedis;
    const split = await leaseOrWaitOn([a], redis, { abandoned: () => abandoned });
    expect(split.load).toEqual([]);
    expect(released).toEqual([fillLeaseKey(a)]);
  });
});

