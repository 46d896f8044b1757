/**
 * A counting semaphore that never queues: when every permit is taken the caller is told at
 * once, so an overloaded fallback sheds load instead of building a queue of requests that
 * will time out anyway.
 */
export class ConcurrencyLimiter {
  private inUse = 0;

  constructor(readonly max: number) {}

  /** A release function, or undefined when the limit is reached. */
  tryAcquire(): (() => void) | undefined {
    if (this.inUse >= this.max) return undefined;
    this.inUse += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.inUse -= 1;
    };
  }

  get active(): number {
    return this.inUse;
  }
}
