import { performance } from 'node:perf_hooks';
import type Redis from 'ioredis';
import { parseCacheValue } from '@settings/shared';
import { sleep } from '../../context';

/** A committed write whose invalidator marker (or a fill at or above its version) is awaited in Redis. */
export interface MarkedWrite {
  readonly key: string;
  readonly version: bigint;
  /** performance.now() when the marker (or a newer fill) was first seen. */
  markedAt?: number;
}

/**
 * Polls the benchmark's Redis db (MGET, every `intervalMs`) for the marker of each added write,
 * so the Watch scenario can split commit → watcher into commit → marker (Debezium, Kafka, the
 * invalidator) and marker → watcher (Redis push, the replica's re-read, the stream).
 */
export class MarkerPoller {
  private readonly pending = new Set<MarkedWrite>();
  private running = true;
  private readonly loop: Promise<void>;

  constructor(
    private readonly redis: Redis,
    private readonly intervalMs = 5,
  ) {
    this.loop = this.poll();
  }

  add(w: MarkedWrite): void {
    this.pending.add(w);
  }

  /** Stops once every added write is marked or `graceMs` passed. */
  async stop(graceMs: number): Promise<void> {
    const deadline = Date.now() + graceMs;
    while (this.pending.size > 0 && Date.now() < deadline) await sleep(20);
    this.running = false;
    await this.loop;
  }

  private async poll(): Promise<void> {
    while (this.running) {
      const batch = [...this.pending];
      for (let i = 0; i < batch.length; i += 500) {
        const chunk = batch.slice(i, i + 500);
        const values = await this.redis.mgetBuffer(...chunk.map((w) => w.key));
        const now = performance.now();
        chunk.forEach((w, j) => {
          const v = parseCacheValue(values[j] ?? null);
          if (v && (v.kind === 'marker' ? v.floor >= w.version : v.version >= w.version)) {
            w.markedAt = now;
            this.pending.delete(w);
          }
        });
      }
      await sleep(this.intervalMs);
    }
  }
}
