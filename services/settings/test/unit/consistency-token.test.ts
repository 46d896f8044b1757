import { decodeToken, encodeToken, MalformedTokenError } from '../../src/consistency/token';
import { parseReadMode } from '../../src/consistency/read-mode';
import { SettingsError } from '../../src/errors';

describe('consistency tokens', () => {
  it('round-trip a version, and a row version with its list version', () => {
    expect(decodeToken(encodeToken(42n))).toEqual({ version: 42n, listVersion: 42n });
    expect(decodeToken(encodeToken(42n, 45n))).toEqual({ version: 42n, listVersion: 45n });
    expect(Buffer.from(encodeToken(7n), 'base64url').toString()).toBe('v1:7');
  });

  it.each([
    ['empty', ''],
    ['not base64url', 'v1:5'],
    ['other format version', Buffer.from('v2:5').toString('base64url')],
    ['leading zero', Buffer.from('v1:05').toString('base64url')],
    ['negative', Buffer.from('v1:-5').toString('base64url')],
    ['list version below row version', Buffer.from('v1:9:3').toString('base64url')],
    ['beyond bigint', Buffer.from('v1:9999999999999999999').toString('base64url')],
    ['trailing garbage', Buffer.from('v1:5x').toString('base64url')],
    ['padded spelling', `${encodeToken(5n)}==`],
  ])('rejects a token that is %s', (_what, token) => {
    expect(() => decodeToken(token)).toThrow(MalformedTokenError);
  });

  it('read modes: unset and false mean minimize_latency; a bad token is INVALID_ARGUMENT', () => {
    expect(parseReadMode(undefined)).toEqual({ kind: 'minimize_latency' });
    expect(parseReadMode({ requirement: { $case: 'fullyConsistent', value: false } })).toEqual({ kind: 'minimize_latency' });
    expect(parseReadMode({ requirement: { $case: 'fullyConsistent', value: true } })).toEqual({ kind: 'fully_consistent' });
    expect(parseReadMode({ requirement: { $case: 'atLeastAsFresh', value: encodeToken(3n) } })).toEqual({ kind: 'at_least_as_fresh', token: { version: 3n, listVersion: 3n } });
    try {
      parseReadMode({ requirement: { $case: 'atLeastAsFresh', value: 'junk' } });
      throw new Error('expected a failure');
    } catch (err) {
      expect(err).toBeInstanceOf(SettingsError);
      expect((err as SettingsError).fieldViolations[0]?.field).toBe('consistency.at_least_as_fresh');
    }
  });
});
