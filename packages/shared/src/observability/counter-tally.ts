import type { Counter } from 'prom-client';

/** One label set's increments not yet handed to the counter. */
interface Slot<L extends string> {
  readonly labels: Partial<Record<L, string>>;
  count: number;
}

/**
 * Increments of a two-label prom-client Counter counted on a hot path (every cached read), added
 * up in plain numbers and handed to the counter whenever it is read: wire `flushInto` as the
 * counter's `collect` hook, which prom-client runs before every scrape and every `get()`, so the
 * exported series, their labels and values are the ones per-call `inc()` would give. Why:
 * prom-client builds a label hash string and validates the labels on every `inc()` (a
 * `labels()` child too), which cost more CPU than the near-cache hit it counted.
 */
export class CounterTally<L extends string> {
  /** first label value → second label value → slot; two Map lookups, no string building. */
  private readonly slots = new Map<string, Map<string, Slot<L>>>();

  /** `labelNames`: the counter's two label names, in the order `inc` takes their values. */
  constructor(private readonly labelNames: readonly [L, L]) {}

  inc(first: string, second: string): void {
    const slot = this.slots.get(first)?.get(second);
    if (slot) slot.count += 1;
    else this.create(first, second).count += 1;
  }

  /** Adds every pending count to `counter` and zeroes it. */
  flushInto(counter: Counter<L>): void {
    for (const byFirst of this.slots.values()) {
      for (const slot of byFirst.values()) {
        if (slot.count === 0) continue;
        counter.inc(slot.labels, slot.count);
        slot.count = 0;
      }
    }
  }

  private create(first: string, second: string): Slot<L> {
    let byFirst = this.slots.get(first);
    if (!byFirst) {
      byFirst = new Map();
      this.slots.set(first, byFirst);
    }
    const [a, b] = this.labelNames;
    const slot: Slot<L> = { labels: { [a]: first, [b]: second } as Partial<Record<L, string>>, count: 0 };
    byFirst.set(second, slot);
    return slot;
  }
}
