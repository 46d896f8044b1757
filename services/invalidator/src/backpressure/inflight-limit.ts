/**
 * At most `limit` Redis eviction round trips in flight for the whole replica, however many
 * partitions are being consumed at once: concurrency across partitions must not multiply the
 * load one replica puts on Redis. Waiters are served in arrival order.
 */
export class InflightLimit {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly limit: number) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.active++;
    try {
      return await task();
    } finally {
      // Hand the slot straight to the next waiter (active stays the same) or give it back.
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    }
  }
}
