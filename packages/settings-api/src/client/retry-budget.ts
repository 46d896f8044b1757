/**
 * A client's retry budget, gRPC's retry throttling (gRFC A6) with its usual parameters: a token
 * bucket of MAX_TOKENS, full at first. Every attempt that fails in a way the client retries
 * (isRetryable, whether or not attempts are left) takes one token, every successful call gives
 * back TOKEN_RATIO, and no retry starts while the bucket is at half or below. Per-call retry
 * limits alone let each of N concurrent callers send maxAttempts attempts to a service that is
 * shedding load, multiplying it; with the budget a client whose calls keep failing soon sends each
 * call once, and gets its retries back after about ten successes per token.
 *
 * Hand-written: grpc-js has the same bucket (RetryThrottler) but neither exports it nor lets its
 * own retries honour google.rpc.RetryInfo or the write rules of retry-policy.ts.
 */
export class RetryBudget {
  static readonly MAX_TOKENS = 10;
  static readonly TOKEN_RATIO = 0.1;
  private tokens = RetryBudget.MAX_TOKENS;

  /** An attempt failed with an error of a kind the client retries. */
  recordRetryableFailure(): void {
    this.tokens = Math.max(0, this.tokens - 1);
  }

  recordSuccess(): void {
    this.tokens = Math.min(RetryBudget.MAX_TOKENS, this.tokens + RetryBudget.TOKEN_RATIO);
  }

  /** Whether a retry may start now (checked after the failure that asks for it was recorded). */
  allowsRetry(): boolean {
    return this.tokens > RetryBudget.MAX_TOKENS / 2;
  }
}
