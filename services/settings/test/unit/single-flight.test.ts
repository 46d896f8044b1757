import { SingleFlight } from '../../src/cache/single-flight';

describe('single flight', () => {
  it('joins a load in progress, and only one that started after notBefore', async () => {
    let now = 100;
    const sf = new SingleFlight<string>(() => now);
    expect(sf.join('k', -Infinity)?.promise).toBeUndefined();
    const { claims, promises, release } = sf.claim(['k']);
    expect(sf.join('k', -Infinity)?.promise).toBe(promises[0]);
    expect(sf.join('k', 99)?.promise).toBe(promises[0]);
    // A read-your-writes request that arrived after the load started must not reuse it, nor one
    // that arrived in the same millisecond (the load may have started first).
    expect(sf.join('k', 101)?.promise).toBeUndefined();
    expect(sf.join('k', 100)?.promise).toBeUndefined();
    now = 200;
    const newer = sf.claim(['k']);
    expect(sf.join('k', 150)?.promise).toBe(newer.promises[0]);
    claims[0]!.resolve('old');
    newer.claims[0]!.resolve('new');
    expect(await promises[0]).toBe('old');
    // The older flight's release must not remove the newer one.
    release();
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    expect(sf.join('k', -Infinity)?.promise).toBe(newer.promises[0]);
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
  const sf = new SingleFlight<number>(() => 1000);
  const flight = sf.claim(['k'], { freshJoinable: false });
  expect(sf.join('k', Number.NEGATIVE_INFINITY)?.promise).toBe(flight.promises[0]);
  // A read-your-writes or fully consistent read that arrived at 900 must load itself.
  expect(sf.join('k', 900)?.promise).toBeUndefined();
});

it("a load waiting for one caller's deliberate-read share is joined by that caller's reads only", () => {
  const sf = new SingleFlight<number>(() => 1000);
  const flight = sf.claim(['k'], { owner: 'flooder' });
  expect(sf.join('k', Number.NEGATIVE_INFINITY, 'flooder')?.promise).toBe(flight.promises[0]);
  // Neither a plain cache miss nor another caller's deliberate read waits behind that share.
  expect(sf.join('k', Number.NEGATIVE_INFINITY)?.promise).toBeUndefined();
  expect(sf.join('k', Number.NEGATIVE_INFINITY, 'other-service')?.promise).toBeUndefined();
  // A load without an owner (a plain miss) is joined by anyone.
  const plain = sf.claim(['j']);
  expect(sf.join('j', Number.NEGATIVE_INFINITY, 'flooder')?.promise).toBe(plain.promises[0]);
});

it('a load is not joined by a read that looked the key up under another generation', () => {
  const sf = new SingleFlight<number>(() => 10);
  sf.claim(['k'], { generation: 3n });
  expect(sf.join('k', Number.NEGATIVE_INFINITY, undefined, 3n)).toBeDefined();
  expect(sf.join('k', Number.NEGATIVE_INFINITY, undefined, 4n)).toBeUndefined();
  // Redis not read: any load will do.
  expect(sf.join('k', Number.NEGATIVE_INFINITY)).toBeDefined();
});

it('a load started without reading Redis is not joined by a read that looked the key up under a generation (a renewal may lie between them)', () => {
  const sf = new SingleFlight<number>(() => 10);
  // A fallback load (its lookup failed): it may have read the row before a TRUNCATE whose new
  // generation the later read's lookup saw.
  sf.claim(['k']);
  expect(sf.join('k', Number.NEGATIVE_INFINITY, undefined, 4n)).toBeUndefined();
  // Another read that did not read Redis either may join it.
  expect(sf.join('k', Number.NEGATIVE_INFINITY)).toBeDefined();
});
