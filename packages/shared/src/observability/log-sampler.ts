/**
 * At most one log line per interval for a failure that can repeat thousands of times a second
 * (every call failing the same way while a dependency is down or a pool is exhausted). Writing
 * each one — serialised error, stack, a synchronous write to stdout — is work the process does
 * exactly when it has none to spare; the line that is written says how many it stands for.
 */
export class LogSampler {
  private windowStart = Number.NEGATIVE_INFINITY;
  private suppressed = 0;

  constructor(
    private readonly intervalMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Undefined: do not log this occurrence (it is counted). A number: log it, and say that it
   * stands for that many occurrences left unlogged since the previous line.
   */
  take(): number | undefined {
    const t = this.now();
    if (t - this.windowStart < this.intervalMs) {
      this.suppressed += 1;
      return undefined;
    }
    this.windowStart = t;
    const skipped = this.suppressed;
    this.suppressed = 0;
    return skipped;
  }
}
