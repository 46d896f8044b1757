/**
 * Parsing of the values the Lua scripts write (format v1, the `v1:` key prefix):
 *   entry   "e|<version>|<generation>|<payload bytes>"
 *   marker  "m|<floor>"
 * Only the scripts write these; TypeScript only reads them.
 */
export type CacheValue =
  | { kind: 'entry'; version: bigint; generation: bigint; payload: Buffer }
  | { kind: 'marker'; floor: bigint };

const PIPE = 0x7c;

export class CacheValueFormatError extends Error {
  readonly code = 'CACHE_VALUE_FORMAT';
  constructor(readonly sample: string) {
    super(`unrecognised cache value ${JSON.stringify(sample)}`);
    this.name = 'CacheValueFormatError';
  }
}

/**
 * The decimal number in raw[start, end), read as the scripts read it (`%d+`): one or more ASCII
 * digits, nothing else. BigInt alone also took "" (as 0), spaces and 0x/0b/0o prefixes, so a
 * value the scripts treat as garbage (and overwrite) could read here as an absence at version 0
 * or a marker at another floor than the scripts see; and threw SyntaxError, not this format error.
 */
function decimalAt(raw: Buffer, start: number, end: number): bigint | undefined {
  if (end <= start) return undefined;
  for (let i = start; i < end; i++) {
    const c = raw[i]!;
    if (c < 0x30 || c > 0x39) return undefined;
  }
  return BigInt(raw.toString('latin1', start, end));
}

export function parseCacheValue(raw: Buffer | null): CacheValue | undefined {
  if (raw === null || raw.length === 0) return undefined;
  const kind = raw[0];
  if (kind === 0x6d /* m */ && raw[1] === PIPE) {
    const floor = decimalAt(raw, 2, raw.length);
    if (floor !== undefined) return { kind: 'marker', floor };
  }
  if (kind === 0x65 /* e */ && raw[1] === PIPE) {
    const p1 = raw.indexOf(PIPE, 2);
    const p2 = p1 < 0 ? -1 : raw.indexOf(PIPE, p1 + 1);
    if (p2 > 0) {
      const version = decimalAt(raw, 2, p1);
      const generation = decimalAt(raw, p1 + 1, p2);
      if (version !== undefined && generation !== undefined) return { kind: 'entry', version, generation, payload: raw.subarray(p2 + 1) };
    }
  }
  throw new CacheValueFormatError(raw.subarray(0, 24).toString('latin1'));
}
