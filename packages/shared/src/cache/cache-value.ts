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

export function parseCacheValue(raw: Buffer | null): CacheValue | undefined {
  if (raw === null || raw.length === 0) return undefined;
  const kind = raw[0];
  if (kind === 0x6d /* m */ && raw[1] === PIPE) {
    return { kind: 'marker', floor: BigInt(raw.subarray(2).toString('latin1')) };
  }
  if (kind === 0x65 /* e */ && raw[1] === PIPE) {
    const p1 = raw.indexOf(PIPE, 2);
    const p2 = p1 < 0 ? -1 : raw.indexOf(PIPE, p1 + 1);
    if (p2 > 0) {
      return {
        kind: 'entry',
        version: BigInt(raw.subarray(2, p1).toString('latin1')),
        generation: BigInt(raw.subarray(p1 + 1, p2).toString('latin1')),
        payload: raw.subarray(p2 + 1),
      };
    }
  }
  throw new CacheValueFormatError(raw.subarray(0, 24).toString('latin1'));
}
