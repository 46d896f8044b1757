import { LRUCache } from 'lru-cache';

export interface VerifiedTokenCacheLimits {
  /** Most tokens remembered (least recently used dropped first); 0 turns the cache off. */
  readonly maxEntries: number;
  /** Longest a verification is trusted, even for a token whose `exp` is further away. */
  readonly maxAgeMs: number;
}

/**
 * Tokens longer than this are verified on every call and never remembered: it bounds the
 * cache's memory to about maxEntries × 4 KiB whatever a caller sends (real JWTs are < 1 KiB).
 */
export const MAX_CACHED_TOKEN_LENGTH = 4096;

/** What verification yields; only its `expiresAt` (the token's `exp`) matters here. Generic, so this file needs nothing of auth.ts (which uses it). */
interface VerifiedPrincipal {
  /** Epoch ms of the token's `exp`; a principal without one is never remembered. */
  readonly expiresAt?: number;
}

interface Verified<P> {
  readonly principal: P;
  /** Epoch ms: min(token exp, remembered at + maxAgeMs). */
  readonly validUntil: number;
}

/**
 * Remembers bearer tokens that passed verification, so a caller repeating one token costs a map
 * lookup instead of a signature check (the largest CPU cost of a shed call under a flood).
 *
 * Safe because the key is the exact token string: the same bytes under the same keys, issuer
 * and audience verify the same way, except for time, and an entry is served only before the
 * token's own `exp` (no clock tolerance: stricter than the verifier) and at most `maxAgeMs`
 * after it was verified. Only successes are remembered, so a failure can never turn into a
 * pass; a token that fails is verified (and refused) every time.
 */
export class VerifiedTokenCache<P extends VerifiedPrincipal> {
  private readonly lru: LRUCache<string, Verified<P>> | undefined;

  constructor(
    private readonly limits: VerifiedTokenCacheLimits,
    private readonly now: () => number = Date.now,
  ) {
    this.lru = limits.maxEntries > 0 ? new LRUCache<string, Verified<P>>({ max: limits.maxEntries }) : undefined;
  }

  /** The principal of a token verified earlier and still within its validity; undefined otherwise. */
  get(token: string): P | undefined {
    const entry = this.lru?.get(token);
    if (entry === undefined) return undefined;
    if (this.now() >= entry.validUntil) {
      this.lru!.delete(token);
      return undefined;
    }
    return entry.principal;
  }

  /** Call only with a principal that `token` has just been verified to carry. */
  remember(token: string, principal: P): void {
    if (!this.lru || principal.expiresAt === undefined || token.length > MAX_CACHED_TOKEN_LENGTH) return;
    const now = this.now();
    const validUntil = Math.min(principal.expiresAt, now + this.limits.maxAgeMs);
    if (validUntil > now) this.lru.set(token, { principal, validUntil });
  }

  get size(): number {
    return this.lru?.size ?? 0;
  }
}
