import { mulberry32, type Prng } from '@settings/local-stack';

/**
 * Seeded choices for the chaos run (which keys each writer and reader touches, which replica is
 * killed, which keys the post-heal probe updates): they repeat for the same CHAOS_SEED. Timing
 * still varies between runs; the choices do not.
 */
export type { Prng };
export { mulberry32 };

/**
 * An independent stream per purpose (e.g. `writer-grpc-0`), derived from the run's seed, so
 * adding a reader does not change what the writers pick.
 */
export function streamFor(seed: number, purpose: string): Prng {
  let h = seed >>> 0;
  for (let i = 0; i < purpose.length; i++) h = Math.imul(h ^ purpose.charCodeAt(i), 0x01000193) >>> 0;
  return mulberry32(h);
}

export function intBelow(rng: Prng, n: number): number {
  return Math.floor(rng() * n);
}

/**
 * Half of the picks go to the first tenth of the items (hot keys): reads and writes then meet
 * on the same keys often, which is what gives a stale fill a chance to happen.
 */
export function pickSkewed<T>(rng: Prng, items: readonly T[]): T {
  const hot = Math.max(1, Math.floor(items.length / 10));
  const i = rng() < 0.5 ? intBelow(rng, hot) : intBelow(rng, items.length);
  return items[i]!;
}

/** `count` distinct items (all of them if there are fewer). */
export function sampleDistinct<T>(rng: Prng, items: readonly T[], count: number): T[] {
  const pool = [...items];
  const out: T[] = [];
  while (out.length < count && pool.length > 0) out.push(pool.splice(intBelow(rng, pool.length), 1)[0]!);
  return out;
}

/** A fresh seed when none is given: printed, so a run can be repeated with CHAOS_SEED. */
export function randomSeed(): number {
  return Math.floor(Math.random() * 2 ** 31);
}
