/**
 * At most one log line per interval for a failure that can repeat thousands of times a second
 * (every call failing the same way while a dependency is down or a pool is exhausted). Writing
 * each one — serialised error, stack, a synchronous write to stdout — is work the process does
 * exactly when it has none to spare; the line that is written says how many it stands for.
 */
export class LogSampler {
  private windowStart = Number.NEGATIVE_INFINITY;
  private suppressed = 0;
  /** Set while the current window has occurrences left unlogged and a `summarize` to say so. */
  private windowEnd: NodeJS.Timeout | undefined;
  private summarize: ((suppressed: number) => void) | undefined;

  constructor(
    private readonly intervalMs: number,
    private readonly now: () => number = () => Date.now(),
  ) {}

  /**
   * Undefined: do not log this occurrence (it is counted). A number: log it, and say that it
   * stands for that many occurrences left unlogged since the previous line.
   *
   * `summarize` (the latest one given) is called with the count when a window ends with
   * occurrences left unlogged and no later occurrence has been logged: without it, the last
   * second of an outage went unreported until the next outage's first line, days later, claimed
   * them. The timer is unreferenced: it never holds a process open.
   */
  take(summarize?: (suppressed: number) => void): number | undefined {
    const t = this.now();
    if (t - this.windowStart < this.intervalMs) {
      this.suppressed += 1;
      if (summarize) {
        this.summarize = summarize;
        if (!this.windowEnd) {
          this.windowEnd = setTimeout(() => this.endWindow(), this.windowStart + this.intervalMs - t);
          this.windowEnd.unref();
        }
      }
      return undefined;
    }
    this.clearWindowEnd();
    this.windowStart = t;
    const skipped = this.suppressed;
    this.suppressed = 0;
    return skipped;
  }

  private endWindow(): void {
    const summarize = this.summarize;
    this.windowEnd = undefined;
    this.summarize = undefined;
    if (this.suppressed === 0 || !summarize) return;
    const n = this.suppressed;
    this.suppressed = 0;
    summarize(n);
  }

  private clearWindowEnd(): void {
    if (this.windowEnd) clearTimeout(this.windowEnd);
    this.windowEnd = undefined;
    this.summarize = undefined;
  }
}
