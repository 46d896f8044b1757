import { createHmac } from 'node:crypto';

/**
 * A bearer token for a benchmark caller, signed HS256 with the secret the benchmark gives the
 * service it starts (JWT_HS256_SECRET, meant for tests). Compact JWS by RFC 7515: the harness
 * needs only to mint, never to verify, so this is the whole of it.
 */
export function hs256Token(secret: string, claims: { sub: string; iss: string; aud: string; accounts: string[]; ttlSeconds: number }): string {
  const now = Math.floor(Date.now() / 1000);
  const part = (o: object): string => Buffer.from(JSON.stringify(o)).toString('base64url');
  const unsigned = `${part({ alg: 'HS256', typ: 'JWT' })}.${part({ sub: claims.sub, iss: claims.iss, aud: claims.aud, accounts: claims.accounts, scope: 'settings.read settings.write', iat: now, exp: now + claims.ttlSeconds })}`;
  return `${unsigned}.${createHmac('sha256', secret).update(unsigned).digest('base64url')}`;
}
