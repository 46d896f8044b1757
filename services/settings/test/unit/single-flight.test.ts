import { SingleFlight } from '../../src/cache/single-flight';

describe('single flight', () => {
  it('joins a load in progress, and with laterThanClaim only one claimed after that point', async () => {
    const sf = new SingleFlight<string>();
    expect(sf.join('k')?.promise).toBeUndefined();
    const before = sf.claimsSoFar;
    const { claims, promises, release } = sf.claim(['k']);
    expect(sf.join('k')?.promise).toBe(promises[0]);
    expect(sf.join('k', { laterThanClaim: before })?.promise).toBe(promises[0]);
    // A fully consistent request that began after the load was claimed must not reuse it.
    const arrived = sf.claimsSoFar;
    expect(sf.join('k', { laterThanClaim: arrived })?.promise).toBeUndefined();
    const newer = sf.claim(['k']);
    expect(sf.join('k', { laterThanClaim: arrived })?.promise).toBe(newer.promises[0]);
    claims[0]!.resolve('old');
    newer.claims[0]!.resolve('new');
    expect(await promises[0]).toBe('old');
    // The older flight's release must not remove the newer one.
    release();
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    expect(sf.join('k')?.promise).toBe(newer.promises[0]);
    newer.release();
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    expect(sf.size).toBe(0);
  });

  it('a rejected load with no joiner is not an unhandled rejection', async () => {
    const sf = new SingleFlight<string>();
    const { claims, release } = sf.claim(['a', 'b']);
    for (const c of claims) c.reject(new Error('db down'));
    release();
    await new Promise((r) => setImmediate(r));
  });
});

it('a load that may be answered by another replica fill (fill lease) is joined by minimize_latency reads only', () => {
  const sf = new SingleFlight<number>();
  const arrived = sf.claimsSoFar;
  const flight = sf.claim(['k'], { freshJoinable: false });
  expect(sf.join('k')?.promise).toBe(flight.promises[0]);
  // A fully consistent read that arrived before it was claimed, or a token read, loads itself.
  expect(sf.join('k', { laterThanClaim: arrived })?.promise).toBeUndefined();
  expect(sf.join('k', { leasedOk: false })?.promise).toBeUndefined();
});

it("a load waiting for one caller's deliberate-read share is joined by that caller's reads only", () => {
  const sf = new SingleFlight<number>();
  const flight = sf.claim(['k'], { owner: 'flooder' });
  expect(sf.join('k', { caller: 'flooder' })?.promise).toBe(flight.promises[0]);
  // Neither a plain cache miss nor another caller's deliberate read waits behind that share.
  expect(sf.join('k')?.promise).toBeUndefined();
  expect(sf.join('k', { caller: 'other-service' })?.promise).toBeUndefined();
  // A load without an owner (a plain miss) is joined by anyone.
  const plain = sf.claim(['j']);
  expect(sf.join('j', { caller: 'flooder' })?.promise).toBe(plain.promises[0]);
});

it('a load is not joined by a read that looked the key up under another generation', () => {
  const sf = new SingleFlight<number>();
  sf.claim(['k'], { generation: 3n });
  expect(sf.join('k', { generation: 3n })).toBeDefined();
  expect(sf.join('k', { generation: 4n })).toBeUndefined();
  // Redis not read: any load will do.
  expect(sf.join('k')).toBeDefined();
});

it('a load started without reading Redis is not joined by a read that looked the key up under a generation (a renewal may lie between them)', () => {
  const sf = new SingleFlight<number>();
  // A fallback load (its lookup failed): it may have read the row before a TRUNCATE whose new
  // generation the later read's lookup saw.
  sf.claim(['k']);
  expect(sf.join('k', { generation: 4n })).toBeUndefined();
  // Another read that did not read Redis either may join it.
  expect(sf.join('k')).toBeDefined();
});
