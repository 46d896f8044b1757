/**
 * Seeded pseudo-random numbers for workloads (bench, chaos): the same seed makes the same
 * choices, so runs and variants can be compared. Not for secrets.
 */
export type Prng = () => number;

/** mulberry32: 32-bit state, full period, good enough for picking keys. */
export function mulberry32(seed: number): Prng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
