import { ConsistencyTokens, decodeToken, MalformedTokenError } from '../../src/consistency/token';
import { parseReadMode } from '../../src/consistency/read-mode';
import { SettingsError } from '../../src/errors';

const KEY = 'consistency-token-unit-test-key-0123456789';
const tokens = new ConsistencyTokens(KEY);
const body = (text: string): string => Buffer.from(text).toString('base64url');
/** A token with a well-formed body and a MAC that is not the service's. */
const forged = (text: string): string => `${body(text)}.${Buffer.alloc(16, 7).toString('base64url')}`;

describe('consistency tokens', () => {
  it('round-trip a version, and a row version with its list version', () => {
    expect(tokens.verify(tokens.issue(42n))).toEqual({ version: 42n, listVersion: 42n });
    expect(tokens.verify(tokens.issue(42n, 45n))).toEqual({ version: 42n, listVersion: 45n });
    expect(Buffer.from(tokens.issue(7n).split('.')[0]!, 'base64url').toString()).toBe('v1:7');
    expect(decodeToken(tokens.issue(7n, 9n))).toEqual({ version: 7n, listVersion: 9n });
  });

  it.each([
    ['empty', ''],
    ['not base64url', 'v1:5'],
    ['unsigned (the format before MACs)', body('v1:5')],
    ['other format version', forged('v2:5')],
    ['leading zero', forged('v1:05')],
    ['negative', forged('v1:-5')],
    ['list version below row version', forged('v1:9:3')],
    ['beyond bigint', forged('v1:9999999999999999999')],
    ['trailing garbage', forged('v1:5x')],
    ['padded spelling', `${tokens.issue(5n)}==`],
  ])('rejects a token that is %s', (_what, token) => {
    expect(() => decodeToken(token)).toThrow(MalformedTokenError);
    expect(() => tokens.verify(token)).toThrow(MalformedTokenError);
  });

  it('rejects a well-formed token whose MAC is not the service key (forged, or another key, or another body)', () => {
    expect(() => tokens.verify(forged('v1:999999999999'))).toThrow('consistency token not issued by this service');
    expect(() => tokens.verify(new ConsistencyTokens('some-other-service-key-0123456789abcdef').issue(5n))).toThrow(MalformedTokenError);
    const [, mac] = tokens.issue(5n).split('.');
    expect(() => tokens.verify(`${body('v1:6')}.${mac}`)).toThrow(MalformedTokenError);
  });

  it('has one spelling: the same MAC with the spare bits of its last character set is refused', () => {
    const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const token = tokens.issue(5n);
    // 16 MAC bytes in 22 characters: the last one holds 2 bits of the MAC and 4 spare ones.
    const last = B64URL.indexOf(token.slice(-1));
    for (let spare = 1; spare < 16; spare++) {
      const respelled = `${token.slice(0, -1)}${B64URL[last ^ spare]}`;
      expect(() => tokens.verify(respelled)).toThrow(MalformedTokenError);
    }
    expect(tokens.verify(token)).toEqual({ version: 5n, listVersion: 5n });
  });

  it('accepts tokens of the previous key during a rotation, and issues with the new one', () => {
    const rotated = new ConsistencyTokens('the-new-consistency-token-key-0123456789', KEY);
    expect(rotated.verify(tokens.issue(11n))).toEqual({ version: 11n, listVersion: 11n });
    expect(() => tokens.verify(rotated.issue(12n))).toThrow(MalformedTokenError);
  });

  // docs/operations.md, Rotating the consistency token key: during each roll-out the pods of the
  // step before and of the step after serve side by side; each must accept every token the other
  // issues (a write's token, or cached bytes the other filled).
  it('the documented three-step key rotation never refuses a token during a roll-out; a new signing key in one roll-out does', () => {
    const NEW = 'the-new-consistency-token-key-0123456789';
    const steps = [new ConsistencyTokens(KEY), new ConsistencyTokens(KEY, NEW), new ConsistencyTokens(NEW, KEY), new ConsistencyTokens(NEW)];
    const acceptsEachOther = (a: ConsistencyTokens, b: ConsistencyTokens): boolean =>
      [[a, b], [b, a]].every(([issuer, verifier]) => {
        try {
          return verifier!.verify(issuer!.issue(21n)).version === 21n;
        } catch {
          return false;
        }
      });
    // Steps 0 → 1 and 1 → 2 overlap in roll-outs; step 3 comes after cached tokens of step 1 expired.
    expect([acceptsEachOther(steps[0]!, steps[1]!), acceptsEachOther(steps[1]!, steps[2]!), acceptsEachOther(steps[2]!, steps[3]!)]).toEqual([true, true, true]);
    // The shortcut: straight from the old key to (new, previous = old).
    expect(acceptsEachOther(steps[0]!, steps[2]!)).toBe(false);
  });

  it('read modes: unset and false mean minimize_latency; a bad or forged token is INVALID_ARGUMENT on the token field', () => {
    expect(parseReadMode(undefined, tokens)).toEqual({ kind: 'minimize_latency' });
    expect(parseReadMode({ requirement: { $case: 'fullyConsistent', value: false } }, tokens)).toEqual({ kind: 'minimize_latency' });
    expect(parseReadMode({ requirement: { $case: 'fullyConsistent', value: true } }, tokens)).toEqual({ kind: 'fully_consistent' });
    expect(parseReadMode({ requirement: { $case: 'atLeastAsFresh', value: tokens.issue(3n) } }, tokens)).toEqual({ kind: 'at_least_as_fresh', token: { version: 3n, listVersion: 3n } });
    for (const value of ['junk', forged('v1:3')]) {
      try {
        parseReadMode({ requirement: { $case: 'atLeastAsFresh', value } }, tokens);
        throw new Error('expected a failure');
      } catch (err) {
        expect(err).toBeInstanceOf(SettingsError);
        expect((err as SettingsError).fieldViolations[0]?.field).toBe('consistency.at_least_as_fresh');
      }
    }
  });
});
