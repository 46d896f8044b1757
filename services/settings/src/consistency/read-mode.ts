import type { Consistency } from '@settings/api';
import { invalidArgument, type Violations } from '../errors';
import { MalformedTokenError, type ConsistencyToken, type ConsistencyTokens } from './token';

export type ReadMode =
  | { readonly kind: 'minimize_latency' }
  | { readonly kind: 'at_least_as_fresh'; readonly token: ConsistencyToken }
  | { readonly kind: 'fully_consistent' };

export const MINIMIZE_LATENCY: ReadMode = { kind: 'minimize_latency' };

/**
 * Unset, and `false` in either boolean branch, mean minimize_latency: proto3 cannot tell an
 * explicit `false` from a default, so it must not change behaviour. A token must verify
 * (token.ts): a forged one is INVALID_ARGUMENT, so it can never force a database read. Given
 * `violations`, a token that does not verify is added there (the caller throws them all
 * together) instead of being thrown on its own, which would drop the violations already found.
 */
export function parseReadMode(
  consistency: Consistency | undefined,
  tokens: Pick<ConsistencyTokens, 'verify'>,
  field = 'consistency',
  violations?: Violations,
): ReadMode {
  const req = consistency?.requirement;
  if (!req) return MINIMIZE_LATENCY;
  switch (req.$case) {
    case 'minimizeLatency':
      return MINIMIZE_LATENCY;
    case 'fullyConsistent':
      return req.value ? { kind: 'fully_consistent' } : MINIMIZE_LATENCY;
    case 'atLeastAsFresh':
      try {
        return { kind: 'at_least_as_fresh', token: tokens.verify(req.value) };
      } catch (err) {
        if (err instanceof MalformedTokenError) {
          const violation = { field: `${field}.at_least_as_fresh`, description: 'not a consistency token returned by this service' };
          if (!violations) throw invalidArgument([violation]);
          violations.add(violation.field, violation.description);
          return MINIMIZE_LATENCY;
        }
        throw err;
      }
  }
}
