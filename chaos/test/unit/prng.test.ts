import { mulberry32, pickSkewed, sampleDistinct, streamFor } from '../../src/prng';

describe('seeded choices', () => {
  it('the same seed gives the same sequence, another seed a different one', () => {
    const a = mulberry32(42);
    const b = mulberry32(42);
    const c = mulberry32(43);
    const seqA = Array.from({ length: 5 }, a);
    expect(Array.from({ length: 5 }, b)).toEqual(seqA);
    expect(Array.from({ length: 5 }, c)).not.toEqual(seqA);
    for (const x of seqA) expect(x >= 0 && x < 1).toBe(true);
  });

  it('streams of one seed are independent by purpose and repeatable', () => {
    const w0 = Array.from({ length: 5 }, streamFor(7, 'writer-0'));
    expect(Array.from({ length: 5 }, streamFor(7, 'writer-0'))).toEqual(w0);
    expect(Array.from({ length: 5 }, streamFor(7, 'writer-1'))).not.toEqual(w0);
  });

  it('skewed picks favour the hot tenth but reach every key', () => {
    const items = Array.from({ length: 100 }, (_, i) => i);
    const rng = mulberry32(1);
    const picks = Array.from({ length: 20_000 }, () => pickSkewed(rng, items));
    const hot = picks.filter((p) => p < 10).length / picks.length;
    expect(hot).toBeGreaterThan(0.5);
    expect(hot).toBeLessThan(0.6);
    expect(new Set(picks).size).toBe(100);
  });

  it('samples distinct items, at most as many as there are', () => {
    const rng = mulberry32(3);
    const s = sampleDistinct(rng, ['a', 'b', 'c', 'd'], 3);
    expect(new Set(s).size).toBe(3);
    expect(sampleDistinct(rng, ['a', 'b'], 5).sort()).toEqual(['a', 'b']);
  });
});
