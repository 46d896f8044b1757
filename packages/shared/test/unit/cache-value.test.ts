import { CacheValueFormatError, parseCacheValue } from '../../src/cache/cache-value';

describe('cache value format v1', () => {
  it('parses an entry with a binary payload containing the separator', () => {
    const payload = Buffer.from([0x7c, 0x00, 0xff, 0x7c]);
    const v = parseCacheValue(Buffer.concat([Buffer.from('e|12|3|'), payload]));
    expect(v).toEqual({ kind: 'entry', version: 12n, generation: 3n, payload });
  });

  it('parses a marker', () => {
    expect(parseCacheValue(Buffer.from('m|99'))).toEqual({ kind: 'marker', floor: 99n });
  });

  it('treats a missing key as absent and anything else as a format error', () => {
    expect(parseCacheValue(null)).toBeUndefined();
    expect(() => parseCacheValue(Buffer.from('{"old":"json"}'))).toThrow(CacheValueFormatError);
  });
});

describe('cache value numbers are read as the scripts read them (%d+)', () => {
  it.each(['e||7|x', 'e|12||x', 'e| 12|7|x', 'e|0x10|7|x', 'e|12|0b1|x', 'm|', 'm|0x10', 'm| 5', 'm|-3', 'm|1e3'])(
    '%j is a format error, not an entry or marker at another number than the scripts see',
    (value) => {
      expect(() => parseCacheValue(Buffer.from(value))).toThrow(CacheValueFormatError);
    },
  );

  it('keeps versions and floors exact beyond 2^53', () => {
    expect(parseCacheValue(Buffer.from('m|9007199254740993'))).toEqual({ kind: 'marker', floor: 9007199254740993n });
    expect(parseCacheValue(Buffer.from('e|9223372036854775807|5|p'))).toMatchObject({ version: 9223372036854775807n, generation: 5n });
  });
});
