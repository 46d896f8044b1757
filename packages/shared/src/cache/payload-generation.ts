import { createHash } from 'node:crypto';
import { SETTINGS_TABLES } from '../resources/settings-tables';
import type { KeySpace } from './key-map';

/** Each key space's payload format (CachedTableSpec.payloadFormat), as this release writes it. */
export type PayloadFormats = Readonly<Record<KeySpace, number>>;

export const PAYLOAD_FORMATS: PayloadFormats = Object.fromEntries(SETTINGS_TABLES.map((t) => [t.space, t.payloadFormat])) as Record<KeySpace, number>;

const MASK_52 = (1n << 52n) - 1n;

/**
 * The generation entries of a space carry: the space's generation as Redis holds it, combined
 * with the payload format this release writes there (CachedTableSpec.payloadFormat).
 *
 * Why: a release that adds a field to a cached message (or maps a column differently) must not
 * serve entries an older release filled without it; with no row change there is no event and no
 * eviction, so they would be served until their TTL (the value the caller sees is wrong, though
 * the row never changed). Folded into the generation, the format makes another release's entries
 * misses, exactly like the entries of a generation a TRUNCATE retired, with the fence rules the
 * scripts already have for "another generation" (versioned-fill.lua): such an entry at the same
 * or an older version is replaced by this release's fill, one at a newer version fences it.
 * While two releases with different formats serve together (a rolling update), each one's fill
 * is the other's miss: a hot key costs a PostgreSQL read per alternation, for the rollout only.
 *
 * Format 0 leaves the generation as it is. Another format XORs it with 52 bits of a hash of
 * (space, format): generations are at most 2^52 (generation.ts), so the result stays below
 * 2^53 (exact in a Lua double and a JS number), and
 * XOR is its own inverse, so `of(space, of(space, g)) === g` turns a served generation back into
 * the one Redis holds. Two releases' generations collide with probability 2^-52, as two draws of
 * one space do (generation.ts).
 */
export class PayloadGenerations {
  private readonly salts: ReadonlyMap<KeySpace, bigint>;

  constructor(formats: PayloadFormats = PAYLOAD_FORMATS) {
    this.salts = new Map((Object.entries(formats) as Array<[KeySpace, number]>).map(([space, format]) => [space, formatSalt(space, format)]));
  }

  /** The generation this release's entries of `space` carry under `redisGeneration` (and back). */
  of(space: KeySpace, redisGeneration: bigint): bigint {
    const salt = this.salts.get(space) ?? 0n;
    return salt === 0n ? redisGeneration : redisGeneration ^ salt;
  }
}

/**
 * The generation entries of `space` in payload format `format` carry under `redisGeneration`:
 * for tools that judge entries other releases serve (the staleness auditor judges each sample by
 * the format of the replica that served it).
 */
export function servedGeneration(space: KeySpace, format: number, redisGeneration: bigint): bigint {
  const salt = formatSalt(space, format);
  return salt === 0n ? redisGeneration : redisGeneration ^ salt;
}

/**
 * The payload format (0 to `maxFormat`) whose entries of `space` carry `entryGeneration` under
 * `redisGeneration`; undefined when none does (an entry of a retired generation).
 */
export function payloadFormatOf(space: KeySpace, entryGeneration: bigint, redisGeneration: bigint, maxFormat = 64): number | undefined {
  for (let format = 0; format <= maxFormat; format++) {
    if (servedGeneration(space, format, redisGeneration) === entryGeneration) return format;
  }
  return undefined;
}

const salts = new Map<string, bigint>();

function formatSalt(space: KeySpace, format: number): bigint {
  const id = `${space} ${format}`;
  let salt = salts.get(id);
  if (salt === undefined) {
    salt = computeSalt(space, format);
    salts.set(id, salt);
  }
  return salt;
}

function computeSalt(space: KeySpace, format: number): bigint {
  if (!Number.isSafeInteger(format) || format < 0) throw new Error(`payload format of ${space} must be a non-negative integer, not ${format}`);
  if (format === 0) return 0n;
  const digest = createHash('sha256').update(`settings-cache payload format ${space} ${format}`).digest();
  // A zero salt would make the format indistinguishable from format 0: take the next bits then.
  for (let offset = 0; offset + 8 <= digest.length; offset++) {
    const salt = digest.readBigUInt64BE(offset) & MASK_52;
    if (salt !== 0n) return salt;
  }
  throw new Error(`no payload salt for ${space} format ${format}`);
}
