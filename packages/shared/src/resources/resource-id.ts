/**
 * The one pattern every id segment of a resource name and a cache key matches (account, doctor,
 * staff): lower case, no `:`, `{`, `}`, `/`, spaces or wildcards. Checking ids against it before
 * they reach a key or a name is what keeps any input from forging another tenant's cache key,
 * Redis Cluster hash tag or resource name. The migrations' CHECK constraints spell the same
 * pattern in SQL (migrations are append-only, so they keep their own copy).
 */
export const ID_SEGMENT = '[a-z0-9][a-z0-9_-]{0,62}';
export const ID_PATTERN = new RegExp(`^${ID_SEGMENT}$`);

export class InvalidIdError extends Error {
  readonly code = 'KEY_INVALID_ID';
  constructor(
    readonly field: string,
    readonly value: unknown,
  ) {
    super(`${field} ${JSON.stringify(value)} does not match ${ID_PATTERN}`);
    this.name = 'InvalidIdError';
  }
}

/** `value` when it is a valid id; throws InvalidIdError naming `field` otherwise. */
export function checkedId(field: string, value: unknown): string {
  if (typeof value !== 'string' || !ID_PATTERN.test(value)) throw new InvalidIdError(field, value);
  return value;
}
