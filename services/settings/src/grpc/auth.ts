import type { Metadata } from '@grpc/grpc-js';
import { ID_PATTERN, type Logger } from '@settings/shared';
import { publicKeyAlgorithm, type SettingsConfig } from '../config';
import { echo, SettingsError } from '../errors';
import { jose } from './jose';
import { API_SCOPES, DEFAULT_UNSCOPED_TOKEN_SCOPES, parseScopeList, SCOPES_ALLOWING, type Access } from './scopes';
import { VerifiedTokenCache } from './verified-token-cache';

export type { Access } from './scopes';

/** Who is calling, from the verified bearer token. */
export interface Principal {
  readonly subject: string;
  /** Account ids the caller may touch; `all` for `["*"]` and insecure-dev. */
  readonly accounts: ReadonlySet<string> | 'all';
  /** Granted scopes; a token without a `scope` claim gets JWT_UNSCOPED_TOKEN_SCOPES (default read-only). */
  readonly scopes: ReadonlySet<string>;
  /** Epoch ms when the token expires (its `exp`); undefined in insecure-dev. Watch streams end then. */
  readonly expiresAt?: number;
}

export interface Authenticator {
  /**
   * A Principal, or a Promise of one when the token must first be verified. Synchronous for a
   * token verified before (and in insecure-dev), so a near-cache hit answers without a promise.
   * A bad token is always a rejected promise, never a throw.
   */
  authenticate(metadata: Metadata): Principal | Promise<Principal>;
}

/**
 * Scope check per method: a write scope implies reading (a read-modify-write needs both);
 * settings.write does not allow changing staff permissions, which need settings.permissions.write.
 */
export function requireScope(principal: Principal, access: Access): void {
  const allowing = SCOPES_ALLOWING[access];
  if (!allowing.some((scope) => principal.scopes.has(scope))) {
    throw new SettingsError('PERMISSION_DENIED', `token lacks scope ${allowing.join(' or ')}`);
  }
}

export function authorizeAccount(principal: Principal, accountId: string): void {
  if (principal.accounts === 'all' || principal.accounts.has(accountId)) return;
  // Same message whether or not the account exists, so callers cannot probe other tenants.
  // The subject is the token's `sub`, of any length: echoed shortened.
  throw new SettingsError('PERMISSION_DENIED', `caller ${echo(principal.subject)} may not access accounts/${accountId}`);
}

export async function createAuthenticator(config: SettingsConfig, log: Logger): Promise<Authenticator> {
  if (config.AUTH_MODE === 'insecure-dev') {
    log.warn('AUTH_MODE=insecure-dev: EVERY CALLER IS TRUSTED WITH EVERY ACCOUNT. Never use this outside local development.');
    const dev: Principal = { subject: 'dev', accounts: 'all', scopes: new Set(API_SCOPES) };
    return { authenticate: () => dev };
  }
  return createJwtAuthenticator(config);
}

type VerifyKey = Awaited<ReturnType<typeof jose.importSPKI>>;

async function createJwtAuthenticator(config: SettingsConfig): Promise<Authenticator> {
  // Per algorithm, the keys tokens may be signed with: the current one first, then during a
  // rotation the previous one (a token is tried against the next only when its signature does
  // not verify with the one before).
  const keys = new Map<string, VerifyKey[]>();
  const add = (alg: string, key: VerifyKey): void => void keys.set(alg, [...(keys.get(alg) ?? []), key]);
  for (const secret of [config.JWT_HS256_SECRET, config.JWT_PREVIOUS_HS256_SECRET]) {
    if (secret === '') continue;
    // Imported once: given raw bytes, jose imports a new CryptoKey on every verification.
    add('HS256', await globalThis.crypto.subtle.importKey('raw', new TextEncoder().encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']));
  }
  for (const pem of [config.JWT_PUBLIC_KEY, config.JWT_PREVIOUS_PUBLIC_KEY]) {
    if (pem === '') continue;
    const alg = publicKeyAlgorithm(pem);
    add(alg, await jose.importSPKI(pem, alg));
  }
  const algorithms = [...keys.keys()];
  const unscopedScopes = parseScopeList(config.JWT_UNSCOPED_TOKEN_SCOPES);
  const keysFor = (token: string): VerifyKey[] => {
    let alg: string | undefined;
    try {
      alg = jose.decodeProtectedHeader(token).alg;
    } catch {
      throw new SettingsError('UNAUTHENTICATED', 'invalid bearer token (ERR_JWS_INVALID)');
    }
    const candidates = alg ? keys.get(alg) : undefined;
    if (!candidates) throw new SettingsError('UNAUTHENTICATED', 'bearer token signed with an unaccepted algorithm');
    return candidates;
  };

  const verified = new VerifiedTokenCache<Principal>({ maxEntries: config.JWT_VERIFIED_CACHE_MAX_ENTRIES, maxAgeMs: config.JWT_VERIFIED_CACHE_MAX_AGE_MS });

  const verifyAndRemember = async (token: string): Promise<Principal> => {
    let payload: Record<string, unknown> | undefined;
    const candidates = keysFor(token);
    for (const [i, key] of candidates.entries()) {
      try {
        ({ payload } = await jose.jwtVerify(token, key, {
          issuer: config.JWT_ISSUER,
          audience: config.JWT_AUDIENCE,
          algorithms,
          requiredClaims: ['exp', 'sub'],
          clockTolerance: 30,
        }));
        break;
      } catch (err) {
        // Only jose's verdicts on the token are the caller's fault; anything else is a bug here
        // (INTERNAL, logged), not every caller's token turned UNAUTHENTICATED.
        if (!(err instanceof jose.errors.JOSEError)) throw err;
        // Signed with another key of this algorithm (a rotation): the next one may verify it.
        if (err instanceof jose.errors.JWSSignatureVerificationFailed && i < candidates.length - 1) continue;
        throw new SettingsError('UNAUTHENTICATED', `invalid bearer token (${err.code})`);
      }
    }
    if (payload === undefined) throw new SettingsError('UNAUTHENTICATED', 'invalid bearer token');
    const principal = principalFromClaims(payload, unscopedScopes);
    verified.remember(token, principal);
    return principal;
  };

  return {
    authenticate(metadata) {
      let token: string;
      try {
        token = bearerToken(metadata);
      } catch (err) {
        return Promise.reject(err as Error);
      }
      return verified.get(token) ?? verifyAndRemember(token);
    },
  };
}

function bearerToken(metadata: Metadata): string {
  const values = metadata.get('authorization');
  if (values.length === 0) throw new SettingsError('UNAUTHENTICATED', 'missing authorization metadata (Bearer token)');
  const m = values.length === 1 && typeof values[0] === 'string' ? /^Bearer ([A-Za-z0-9._~+/-]+=*)$/i.exec(values[0]) : null;
  if (!m) throw new SettingsError('UNAUTHENTICATED', 'authorization metadata must be a single "Bearer <token>"');
  return m[1]!;
}

/** Longest `sub` claim accepted (RFC 7519 sets none; 255 is what identity providers use). */
const MAX_SUBJECT_LENGTH = 255;

/** Claims are checked strictly: a token with malformed claims is not a valid token. */
export function principalFromClaims(payload: Record<string, unknown>, unscopedScopes: ReadonlySet<string> = parseScopeList(DEFAULT_UNSCOPED_TOKEN_SCOPES)): Principal {
  const { sub, accounts, scope } = payload;
  if (typeof sub !== 'string' || sub === '') throw new SettingsError('UNAUTHENTICATED', 'bearer token has no subject');
  // The subject is written to the grant audit table and keys the per-caller limits: a control
  // character (PostgreSQL refuses NUL in text: the write failed INVALID_ARGUMENT on `request`)
  // or an unbounded length is a malformed credential, not a bad field of the request.
  // eslint-disable-next-line no-control-regex -- control characters are what this rejects
  if (sub.length > MAX_SUBJECT_LENGTH || /[\u0000-\u001f\u007f]/.test(sub)) throw new SettingsError('UNAUTHENTICATED', `bearer token subject must be at most ${MAX_SUBJECT_LENGTH} characters without control characters`);
  let accountSet: ReadonlySet<string> | 'all' = new Set();
  if (accounts !== undefined) {
    if (!Array.isArray(accounts) || !accounts.every((a): a is string => typeof a === 'string' && (a === '*' || ID_PATTERN.test(a)))) {
      throw new SettingsError('UNAUTHENTICATED', 'bearer token claim "accounts" must be an array of account ids or ["*"]');
    }
    accountSet = accounts.includes('*') ? 'all' : new Set(accounts);
  }
  let scopes: ReadonlySet<string> = unscopedScopes;
  if (typeof scope === 'string') scopes = parseScopeList(scope);
  else if (Array.isArray(scope) && scope.every((s) => typeof s === 'string')) scopes = new Set(scope as string[]);
  else if (scope !== undefined) throw new SettingsError('UNAUTHENTICATED', 'bearer token claim "scope" must be a space-separated string');
  return { subject: sub, accounts: accountSet, scopes, ...(typeof payload.exp === 'number' ? { expiresAt: payload.exp * 1000 } : {}) };
}
