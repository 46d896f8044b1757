import type { KeySpace } from '@settings/shared';
import type { EvictionPlan } from './eviction-plan';

/**
 * Merges the plans of many change events into one set of Redis operations: per key only the
 * highest floor survives (markers only ever move up, so the order of events for one key does
 * not change the outcome), and each key space's generation is bumped once per truncate.
 */
export class EvictionBatcher {
  private readonly floors = new Map<string, bigint>();
  private readonly bumps = new Map<KeySpace, number>();
  private planned = 0;

  add(plan: EvictionPlan): void {
    for (const { key, floor } of plan.markers) {
      this.planned++;
      const prev = this.floors.get(key);
      if (prev === undefined || floor > prev) this.floors.set(key, floor);
    }
    for (const space of plan.generationBumps) this.bumps.set(space, (this.bumps.get(space) ?? 0) + 1);
  }

  /** Keys planned before deduplication (for the dedup-ratio metric). */
  get plannedKeys(): number {
    return this.planned;
  }

  markers(): Array<{ key: string; floor: bigint }> {
    return [...this.floors].map(([key, floor]) => ({ key, floor }));
  }

  generationBumps(): KeySpace[] {
    // One new generation per space is enough even after several truncates: any change orphans old entries.
    return Array.from(this.bumps, ([space]) => space);
  }
}
