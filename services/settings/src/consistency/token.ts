import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Consistency tokens: `<base64url(body)>.<base64url(mac)>`, body `v1:<version>` or
 * `v1:<version>:<listVersion>`, mac the first 16 bytes of HMAC-SHA256(CONSISTENCY_TOKEN_SECRET,
 * body).
 *
 * `version` is the settings_version_seq value of the written row. Staff permission writes add
 * the account's list version (drawn later in the same transaction): a cached list can carry a
 * version above the row's without containing the write (another grant of the account touched
 * the list first), so lists must be compared against the list version; single grants compare
 * against the row version and keep their cache hits. Other tokens use one number for both.
 *
 * The MAC is why a caller cannot make one up: a token newer than the cache sends the read to
 * PostgreSQL, so a forged far-future token would turn every read into a database read. Only
 * versions this service issued verify; every replica must hold the same key.
 */
export interface ConsistencyToken {
  readonly version: bigint;
  readonly listVersion: bigint;
}

export class MalformedTokenError extends Error {
  constructor(reason = 'malformed consistency token') {
    super(reason);
    this.name = 'MalformedTokenError';
  }
}

const BODY = /^v1:(0|[1-9][0-9]{0,18})(?::(0|[1-9][0-9]{0,18}))?$/;
const TOKEN = /^([A-Za-z0-9_-]{1,64})\.([A-Za-z0-9_-]{22})$/;
/** PostgreSQL bigint's maximum: no version (settings_version_seq) is above it. */
export const MAX_BIGINT = (1n << 63n) - 1n;
const MAC_BYTES = 16;

/**
 * The versions a token names, WITHOUT checking its MAC: for tests and tools that inspect tokens
 * this service returned. Requests go through ConsistencyTokens.verify.
 */
export function decodeToken(token: string): ConsistencyToken {
  return parse(token).versions;
}

function parse(token: string): { body: string; mac: Buffer; versions: ConsistencyToken } {
  const t = TOKEN.exec(token);
  if (!t) throw new MalformedTokenError();
  const body = Buffer.from(t[1]!, 'base64url').toString('latin1');
  const m = BODY.exec(body);
  // Re-encoding must give the same text, so two spellings of one token cannot exist.
  if (!m || Buffer.from(body, 'latin1').toString('base64url') !== t[1]) throw new MalformedTokenError();
  const version = BigInt(m[1]!);
  const listVersion = m[2] === undefined ? version : BigInt(m[2]);
  if (version > MAX_BIGINT || listVersion > MAX_BIGINT || listVersion < version) throw new MalformedTokenError();
  // The MAC's 22 characters carry 132 bits for 128: the last one's 4 spare bits must be zero too.
  const tokenMac = Buffer.from(t[2]!, 'base64url');
  if (tokenMac.toString('base64url') !== t[2]) throw new MalformedTokenError();
  return { body, mac: tokenMac, versions: { version, listVersion } };
}

/** Issues and verifies tokens with the service's key (and, during a rotation, the previous one). */
export class ConsistencyTokens {
  private readonly keys: readonly Buffer[];

  /** @param secret signs and verifies; @param previous verifies only (empty: none). */
  constructor(secret: string, previous = '') {
    if (secret === '') throw new Error('a consistency token key is required');
    this.keys = [secret, previous].filter((k) => k !== '').map((k) => Buffer.from(k, 'utf8'));
  }

  issue(version: bigint, listVersion?: bigint): string {
    const body = listVersion === undefined || listVersion === version ? `v1:${version}` : `v1:${version}:${listVersion}`;
    return `${Buffer.from(body, 'latin1').toString('base64url')}.${mac(this.keys[0]!, body).toString('base64url')}`;
  }

  /** The token's versions; MalformedTokenError when it is not one this service issued. */
  verify(token: string): ConsistencyToken {
    const { body, mac: given, versions } = parse(token);
    if (!this.keys.some((k) => timingSafeEqual(mac(k, body), given))) throw new MalformedTokenError('consistency token not issued by this service');
    return versions;
  }
}

function mac(key: Buffer, body: string): Buffer {
  return createHmac('sha256', key).update(body, 'latin1').digest().subarray(0, MAC_BYTES);
}
