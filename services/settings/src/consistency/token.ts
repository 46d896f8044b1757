/**
 * Consistency tokens: base64url of `v1:<version>` or `v1:<version>:<listVersion>`.
 *
 * `version` is the settings_version_seq value of the written row. Staff permission writes add
 * the account's list version (drawn later in the same transaction): a cached list can carry a
 * version above the row's without containing the write (another grant of the account touched
 * the list first), so lists must be compared against the list version; single grants compare
 * against the row version and keep their cache hits. Other tokens use one number for both.
 */
export interface ConsistencyToken {
  readonly version: bigint;
  readonly listVersion: bigint;
}

export class MalformedTokenError extends Error {
  constructor() {
    super('malformed consistency token');
    this.name = 'MalformedTokenError';
  }
}

const BODY = /^v1:(0|[1-9][0-9]{0,18})(?::(0|[1-9][0-9]{0,18}))?$/;
const BASE64URL = /^[A-Za-z0-9_-]+$/;
const MAX_BIGINT = (1n << 63n) - 1n;

export function encodeToken(version: bigint, listVersion?: bigint): string {
  const body = listVersion === undefined || listVersion === version ? `v1:${version}` : `v1:${version}:${listVersion}`;
  return Buffer.from(body, 'latin1').toString('base64url');
}

export function decodeToken(token: string): ConsistencyToken {
  if (token.length === 0 || token.length > 64 || !BASE64URL.test(token)) throw new MalformedTokenError();
  const body = Buffer.from(token, 'base64url').toString('latin1');
  const m = BODY.exec(body);
  // Re-encoding must give the same text, so two spellings of one token cannot exist.
  if (!m || Buffer.from(body, 'latin1').toString('base64url') !== token) throw new MalformedTokenError();
  const version = BigInt(m[1]!);
  const listVersion = m[2] === undefined ? version : BigInt(m[2]);
  if (version > MAX_BIGINT || listVersion > MAX_BIGINT || listVersion < version) throw new MalformedTokenError();
  return { version, listVersion };
}
