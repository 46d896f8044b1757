/**
 * Exponential backoff with full jitter (AWS architecture blog, "Exponential Backoff and
 * Jitter"): many invalidator replicas retrying a recovering Redis do not arrive in lockstep.
 */
export function backoffMs(attempt: number, baseMs = 100, maxMs = 5000, random: () => number = Math.random): number {
  const cap = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 16));
  return Math.round(cap * random());
}
