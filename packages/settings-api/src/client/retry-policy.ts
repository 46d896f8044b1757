import { status as GrpcStatus } from '@grpc/grpc-js';
import type { SettingsApiError } from './settings-api-error';

export interface RetryOptions {
  /** Attempts in all, the first included; 1 = no retries. Default 4. */
  readonly maxAttempts?: number;
  /** First backoff when the server sent no RetryInfo; doubled per attempt, full jitter. Default 50 ms. */
  readonly initialBackoffMs?: number;
  /** Longest single wait of the client's own backoff (a server's RetryInfo delay is never cut). Default 2000 ms. */
  readonly maxBackoffMs?: number;
}

const RETRYABLE = new Set<GrpcStatus>([GrpcStatus.UNAVAILABLE, GrpcStatus.ABORTED]);

/**
 * Whether `error` is a kind of failure the client retries (ignoring attempts left and the
 * deadline). UNAVAILABLE and ABORTED are, and RESOURCE_EXHAUSTED when the server sent RetryInfo
 * (the proto's contract: a caller over its share, e.g. CALLER_SHARE_EXCEEDED for deliberate
 * reads, retries after that delay; without one the limit is not one that time lifts). A write is
 * retried only when the server attached RetryInfo: the service sends it only when the write was
 * not applied (e.g. ABORTED ROW_LOCKED, UNAVAILABLE before commit); a bare UNAVAILABLE from the
 * transport may have lost the response of an applied write, and so may UNAVAILABLE
 * `WRITE_OUTCOME_UNKNOWN` (the service lost its database connection after the commit was sent):
 * the caller reads the resource before deciding to write again.
 */
export function isRetryable(error: SettingsApiError, idempotent: boolean): boolean {
  if (!RETRYABLE.has(error.code) && !(error.code === GrpcStatus.RESOURCE_EXHAUSTED && error.retryDelayMs !== undefined)) return false;
  return idempotent || error.retryDelayMs !== undefined;
}

/** How long to wait before the next attempt, or undefined to give up (see isRetryable). */
export function retryDelayMs(error: SettingsApiError, attempt: number, idempotent: boolean, options: RetryOptions, random: () => number = Math.random): number | undefined {
  const maxAttempts = options.maxAttempts ?? 4;
  if (attempt >= maxAttempts) return undefined;
  if (!isRetryable(error, idempotent)) return undefined;
  const maxBackoff = options.maxBackoffMs ?? 2000;
  const server = error.retryDelayMs;
  if (server !== undefined && server >= 0) {
    // RetryInfo is the least to wait, never cut. Callers refused together (one bulk UPDATE's
    // row locks; the service sends the same fixed delay to all of them) would retry in lockstep
    // at exactly that delay, and collide again: jitter from the first retry, the extra up to the
    // server's delay itself (capped by maxBackoffMs) and doubling per further attempt.
    const extra = Math.min(maxBackoff, server * 2 ** (attempt - 1));
    return Math.round(server + random() * extra);
  }
  const ceiling = Math.min(maxBackoff, (options.initialBackoffMs ?? 50) * 2 ** (attempt - 1));
  return Math.round(random() * ceiling);
}
