import { Metadata } from '@grpc/grpc-js';
import { createLogger } from '@settings/shared';
import { createAuthenticator, type Principal } from '../../src/grpc/auth';
import { jose } from '../../src/grpc/jose';
import { MAX_CACHED_TOKEN_LENGTH, VerifiedTokenCache } from '../../src/grpc/verified-token-cache';
import { loadSettingsConfig } from '../../src/config';

const secret = 'unit-test-hs256-secret-0123456789abcdef';
const local = { SETTINGS_LOCAL_STACK: '1', AUTH_MODE: 'jwt', JWT_HS256_SECRET: secret, CONSISTENCY_TOKEN_SECRET: 'unit-test-consistency-key-0123456789abcdef' };
const log = createLogger('test', 'silent');

const principal = (expiresAt?: number): Principal => ({ subject: 's', accounts: 'all', scopes: new Set(['settings.read']), ...(expiresAt === undefined ? {} : { expiresAt }) });

describe('VerifiedTokenCache', () => {
  it('serves a remembered token until min(exp, remembered + maxAge), then forgets it', () => {
    let now = 1_000_000;
    const cache = new VerifiedTokenCache({ maxEntries: 10, maxAgeMs: 60_000 }, () => now);
    const longLived = principal(now + 3_600_000);
    const shortLived = principal(now + 5_000);
    cache.remember('long', longLived);
    cache.remember('short', shortLived);
    expect(cache.get('long')).toBe(longLived);
    expect(cache.get('short')).toBe(shortLived);
    now += 5_000; // the short token's exp: not served from the cache any more (no clock tolerance here)
    expect(cache.get('short')).toBeUndefined();
    expect(cache.get('long')).toBe(longLived);
    now += 55_000; // max age reached although the long token is still valid: verified again
    expect(cache.get('long')).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('never remembers an expired principal, one without exp, an over-long token, or anything when off', () => {
    const now = 1_000_000;
    const cache = new VerifiedTokenCache({ maxEntries: 10, maxAgeMs: 60_000 }, () => now);
    cache.remember('expired', principal(now));
    cache.remember('no-exp', principal());
    cache.remember('x'.repeat(MAX_CACHED_TOKEN_LENGTH + 1), principal(now + 10_000));
    expect(cache.size).toBe(0);
    const off = new VerifiedTokenCache({ maxEntries: 0, maxAgeMs: 60_000 }, () => now);
    off.remember('t', principal(now + 10_000));
    expect(off.get('t')).toBeUndefined();
  });

  it('is bounded: the least recently used token is dropped first', () => {
    const now = 1_000_000;
    const cache = new VerifiedTokenCache({ maxEntries: 2, maxAgeMs: 60_000 }, () => now);
    cache.remember('a', principal(now + 10_000));
    cache.remember('b', principal(now + 10_000));
    cache.get('a');
    cache.remember('c', principal(now + 10_000));
    expect([cache.get('a') !== undefined, cache.get('b') !== undefined, cache.get('c') !== undefined]).toEqual([true, false, true]);
  });
});

describe('the JWT authenticator with verified tokens remembered', () => {
  const sign = (claims: Record<string, unknown>, opts: { key?: string; exp?: string | number; aud?: string } = {}): Promise<string> =>
    new jose.SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('svc')
      .setIssuer('settings-clients')
      .setAudience(opts.aud ?? 'settings-service')
      .setExpirationTime(opts.exp ?? '5m')
      .sign(new TextEncoder().encode(opts.key ?? secret));
  const md = (token: string): Metadata => {
    const m = new Metadata();
    m.set('authorization', `Bearer ${token}`);
    return m;
  };

  it('answers a repeated token from the cache and still refuses an altered, a foreign or a wrong-audience token every time', async () => {
    const auth = await createAuthenticator(loadSettingsConfig(local), log);
    const token = await sign({ accounts: ['a1'], scope: 'settings.read' });
    const first = await auth.authenticate(md(token));
    // The same object: the second call did not verify and rebuild the principal.
    expect(await auth.authenticate(md(token))).toBe(first);
    const [head, body, sig] = token.split('.') as [string, string, string];
    const altered = `${head}.${body}.${sig.slice(0, -2)}${sig.endsWith('AA') ? 'BA' : 'AA'}`;
    const otherBody = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(body, 'base64url').toString()), accounts: ['*'] })).toString('base64url');
    const foreign = await sign({ accounts: ['*'] }, { key: 'another-secret-that-is-long-enough-0123456789' });
    const wrongAudience = await sign({ accounts: ['*'] }, { aud: 'someone-else' });
    for (let i = 0; i < 2; i++) {
      for (const bad of [altered, `${head}.${otherBody}.${sig}`, foreign, wrongAudience]) {
        await expect(auth.authenticate(md(bad))).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
      }
    }
    expect(await auth.authenticate(md(token))).toBe(first);
  });

  it('verifies every call when JWT_VERIFIED_CACHE_MAX_ENTRIES=0', async () => {
    const auth = await createAuthenticator(loadSettingsConfig({ ...local, JWT_VERIFIED_CACHE_MAX_ENTRIES: '0' }), log);
    const token = await sign({ accounts: ['a1'] });
    const first = await auth.authenticate(md(token));
    const second = await auth.authenticate(md(token));
    expect(second).not.toBe(first);
    expect(second).toEqual(first);
  });

  it('never answers from the cache at or after the token exp (the verifier, with its clock tolerance, decides then)', async () => {
    const auth = await createAuthenticator(loadSettingsConfig(local), log);
    const nowS = Math.floor(Date.now() / 1000);
    // Expired 5 s ago: still inside the verifier's 30 s tolerance, so accepted, but not remembered.
    const justExpired = await sign({ accounts: ['a1'] }, { exp: nowS - 5 });
    const a = await auth.authenticate(md(justExpired));
    expect(await auth.authenticate(md(justExpired))).not.toBe(a);
    // Valid for about a second: remembered, then verified again once its exp has passed.
    const shortLived = await sign({ accounts: ['a1'] }, { exp: nowS + 1 });
    const first = await auth.authenticate(md(shortLived));
    expect(await auth.authenticate(md(shortLived))).toBe(first);
    await new Promise((r) => setTimeout(r, (nowS + 1) * 1000 - Date.now() + 20));
    expect(await auth.authenticate(md(shortLived))).not.toBe(first);
  });
});
