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
