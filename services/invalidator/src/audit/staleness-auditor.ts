import { auditSampleRow, generationKey, parseCacheValue, servedGeneration, type AuditSample, type CacheRedis, type CacheValue, type KeySpace, type Logger, type SettingsTable } from '@settings/shared';
import type { InvalidatorMetrics } from '../metrics';
import { servesBelow, supersededFloor } from './audit-decision';
import type { RowVersionSource } from './row-versions';
import type { SampleSource } from './sample-stream';

/** What the auditor needs from Redis: the current value and generation of keys, and the fence. */
export interface AuditCache {
  /** `generation`: the one the replica that served each sample compares (its payload format folded in). */
  lookup(items: ReadonlyArray<{ key: string; space: KeySpace; payloadFormat: number }>): Promise<Array<{ value: CacheValue | undefined; generation: bigint | undefined }>>;
  /** Replaces an entry older than `floor` by a marker at `floor` (evict-to-marker.lua); true when written. */
  fence(key: string, floor: bigint): Promise<boolean>;
}

export interface AuditorOptions {
  /** The invalidation-lag SLO: how long a change may take to reach the cache. */
  sloMs: number;
  /** Samples held in memory waiting for their SLO; the stream is not read while this many wait. */
  maxHeld?: number;
  /** Keys per database statement (one statement per table and batch). */
  batchSize?: number;
  tickMs?: number;
}

interface Suspect {
  sample: AuditSample;
  floor: bigint;
  /** The row was found deleted (a cached absence of it is current). */
  rowGone: boolean;
  /** When it is re-checked, on the monotonic clock (`elapsed`): one real SLO after it was found. */
  dueAt: number;
  /** Fences that failed (Redis errors) since the entry was found inconsistent; it is counted once, at the first. */
  fenceFailures?: number;
}

/** Fence attempts for one inconsistent entry before the auditor gives up on it (logged). */
const MAX_FENCE_ATTEMPTS = 5;

/**
 * The staleness auditor (README "Staleness auditor"): checks sampled cache hits against
 * PostgreSQL once the SLO has passed, counts and logs entries still stale after it, and fences
 * them so they heal. Database statements go through `limiter` (queries per second).
 */
export class StalenessAuditor {
  private held: AuditSample[] = [];
  private suspects: Suspect[] = [];
  /** Due samples and suspects of the round being checked (heldSamples). */
  private inRound = 0;
  private running = false;
  private stopping = false;
  private loops: Promise<void>[] = [];
  private checked = 0;
  private inconsistent = 0;
  private readonly now: () => number;
  /**
   * A monotonic clock for the re-check delay: a wall clock stepped forward by an SLO (NTP) made a
   * suspect due at once, and an eviction still within its SLO was counted inconsistent and
   * fenced. Samples' `servedAt` come from other processes, so their age stays on the wall clock.
   */
  private readonly elapsed: () => number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(
    private readonly deps: {
      source: SampleSource;
      rows: RowVersionSource;
      cache: AuditCache;
      limiter: { take(n: number): Promise<void> };
      metrics: InvalidatorMetrics;
      log: Logger;
      now?: () => number;
      elapsed?: () => number;
      sleep?: (ms: number) => Promise<void>;
    },
    private readonly opts: AuditorOptions,
  ) {
    this.now = deps.now ?? Date.now;
    this.elapsed = deps.elapsed ?? (() => performance.now());
    this.sleep = deps.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  }

  /**
   * Samples in memory: waiting, suspects, and the round's due ones being checked (taken out of
   * the lists while a round awaits the database; not counting them, the stream was read again
   * meanwhile and the bound could be passed by up to a round's worth).
   */
  get heldSamples(): number {
    return this.held.length + this.suspects.length + this.inRound;
  }

  start(): void {
    this.running = true;
    this.loops = [this.pump(), this.tick()];
  }

  async stop(): Promise<void> {
    this.running = false;
    this.stopping = true;
    await this.deps.source.close();
    await Promise.all(this.loops);
    await this.deps.rows.close();
  }

  /** Takes samples from the stream into memory (test seam: `accept`). */
  accept(samples: readonly AuditSample[]): void {
    // A sample stamped in the future (a settings replica whose clock runs ahead) would never come
    // due, and enough of them would fill `maxHeld` and stop the pump for every replica's samples:
    // it counts as served when it arrived.
    const now = this.now();
    for (const s of samples) this.held.push(s.servedAt > now ? { ...s, servedAt: now } : s);
    this.deps.metrics.auditHeld.set(this.heldSamples);
  }

  private async pump(): Promise<void> {
    const max = this.opts.maxHeld ?? 10_000;
    while (this.running) {
      if (this.heldSamples >= max) {
        await this.sleep(200);
        continue;
      }
      try {
        // No more than fits: a full read (500) at 9,800 held went past the bound.
        const { samples, malformed } = await this.deps.source.read(max - this.heldSamples);
        if (malformed > 0) this.deps.metrics.auditSkipped.inc({ reason: 'malformed' }, malformed);
        this.accept(samples);
      } catch (err) {
        if (!this.running) return;
        this.deps.log.debug({ err: (err as Error).message }, 'audit stream read failed; retrying');
        await this.sleep(1000);
      }
    }
  }

  private async tick(): Promise<void> {
    while (this.running) {
      try {
        await this.auditDue();
      } catch (err) {
        // Not expected: database and cache failures are handled per batch above.
        this.deps.log.error({ err: (err as Error).message }, 'audit round failed; its samples are dropped');
      }
      await this.sleep(this.opts.tickMs ?? 200);
    }
  }

  /** One round: re-checks due suspects, then checks samples whose SLO has passed. */
  async auditDue(): Promise<void> {
    const now = this.now();
    const elapsed = this.elapsed();
    const dueSuspects = this.suspects.filter((s) => s.dueAt <= elapsed);
    this.suspects = this.suspects.filter((s) => s.dueAt > elapsed);
    const dueSamples = this.held.filter((s) => s.servedAt + this.opts.sloMs <= now);
    this.held = this.held.filter((s) => s.servedAt + this.opts.sloMs > now);
    this.inRound = dueSuspects.length + dueSamples.length;
    this.deps.metrics.auditHeld.set(this.heldSamples);
    try {
      if (dueSuspects.length > 0) await this.recheck(dueSuspects);
      if (dueSamples.length > 0) await this.check(dueSamples);
    } finally {
      this.inRound = 0;
      this.deps.metrics.auditHeld.set(this.heldSamples);
    }
  }

  private async check(samples: AuditSample[]): Promise<void> {
    const byTable = new Map<SettingsTable, Array<{ sample: AuditSample; ids: Record<string, string> }>>();
    for (const sample of samples) {
      const row = auditSampleRow(sample);
      if (!row) {
        this.deps.metrics.auditSkipped.inc({ reason: 'unmapped' });
        continue;
      }
      const items = byTable.get(row.table);
      if (items) items.push({ sample, ids: row.ids });
      else byTable.set(row.table, [{ sample, ids: row.ids }]);
    }
    const size = this.opts.batchSize ?? 100;
    for (const [table, items] of byTable) {
      for (let i = 0; i < items.length; i += size) {
        // Stopping: the rest of the round's samples are dropped rather than hold the shutdown
        // (a statement can take its whole timeout when PostgreSQL does not answer).
        if (this.stopping) return;
        const batch = items.slice(i, i + size);
        const distinct = new Map(batch.map((b) => [b.sample.key, b.ids]));
        await this.deps.limiter.take(1);
        this.deps.metrics.auditDbQueries.inc();
        let versions: Map<string, bigint>;
        try {
          versions = await this.deps.rows.versions(table, [...distinct.values()]);
        } catch (err) {
          this.deps.metrics.auditSkipped.inc({ reason: 'db_error' }, batch.length);
          this.deps.log.warn({ err: (err as Error).message, table: table.table }, 'audit database read failed; samples dropped');
          continue;
        }
        const candidates: Suspect[] = [];
        for (const { sample } of batch) {
          const rowVersion = versions.get(sample.key);
          const floor = supersededFloor(sample.version, rowVersion);
          if (floor === undefined) this.verdict(sample, false);
          else candidates.push({ sample, floor, rowGone: rowVersion === undefined, dueAt: 0 });
        }
        if (candidates.length === 0) continue;
        let values: Awaited<ReturnType<AuditCache['lookup']>>;
        try {
          values = await this.deps.cache.lookup(candidates.map((c) => c.sample));
        } catch (err) {
          // Dropped and counted, like a failed database read (kept, they would be read from
          // PostgreSQL again at every round of a Redis outage); the round's other batches go on.
          this.deps.metrics.auditSkipped.inc({ reason: 'redis_error' }, candidates.length);
          this.deps.log.warn({ err: (err as Error).message, table: table.table }, 'audit cache read failed; samples dropped');
          continue;
        }
        const dueAt = this.elapsed() + this.opts.sloMs;
        candidates.forEach((c, j) => {
          if (servesBelow(values[j]!.value, values[j]!.generation, c.floor, c.rowGone)) this.suspects.push({ ...c, dueAt });
          else this.verdict(c.sample, false);
        });
      }
    }
    this.deps.metrics.auditHeld.set(this.heldSamples);
  }

  private async recheck(all: Suspect[]): Promise<void> {
    // One stale entry is one inconsistency, however many of its hits were sampled: the entry
    // is decided (logged, counted, fenced) once; the other samples of it are duplicates — in
    // this round (a decided one is kept over the others), and while a decided one waits for
    // another fence attempt (counted already: a second count would inflate the ratio).
    const waitingDecided = new Set(this.suspects.filter((s) => s.fenceFailures !== undefined).map((s) => s.sample.key));
    const byKey = new Map<string, Suspect>();
    for (const s of all) {
      if (waitingDecided.has(s.sample.key)) continue;
      const kept = byKey.get(s.sample.key);
      if (kept === undefined || (kept.fenceFailures === undefined && s.fenceFailures !== undefined)) byKey.set(s.sample.key, s);
    }
    const suspects = [...byKey.values()];
    if (all.length > suspects.length) this.deps.metrics.auditSkipped.inc({ reason: 'same_entry' }, all.length - suspects.length);
    let values: Awaited<ReturnType<AuditCache['lookup']>>;
    try {
      values = await this.deps.cache.lookup(suspects.map((s) => s.sample));
    } catch (err) {
      // Not dropped: a suspect has been seen stale once already. Re-checked one SLO later
      // (still a change older than an SLO if it is stale then); held samples stay bounded by
      // `maxHeld`, which stops the stream read.
      this.deps.log.warn({ err: (err as Error).message, suspects: suspects.length }, 'audit re-check could not read the cache; trying again next SLO');
      const dueAt = this.elapsed() + this.opts.sloMs;
      for (const s of suspects) this.suspects.push({ ...s, dueAt });
      this.deps.metrics.auditHeld.set(this.heldSamples);
      return;
    }
    for (const [j, s] of suspects.entries()) {
      const { value, generation } = values[j]!;
      const decided = s.fenceFailures !== undefined;
      if (!servesBelow(value, generation, s.floor, s.rowGone)) {
        // Healed meanwhile (or, after a failed fence, by another writer): counted already if decided.
        if (!decided) this.verdict(s.sample, false);
        continue;
      }
      const fields = { key: s.sample.key, servedVersion: s.sample.version.toString(), cachedVersion: value?.kind === 'entry' ? value.version.toString() : undefined, rowVersion: s.floor.toString(), servedAt: new Date(s.sample.servedAt).toISOString() };
      if (!decided) {
        this.deps.log.error(fields, 'cache entry still stale after the invalidation SLO (inconsistent)');
        this.verdict(s.sample, true);
      }
      let written: boolean;
      try {
        written = await this.deps.cache.fence(s.sample.key, s.floor);
      } catch (err) {
        // The entry stays stale until it is fenced: tried again next SLO, a bounded number of times.
        const failures = (s.fenceFailures ?? 0) + 1;
        if (failures < MAX_FENCE_ATTEMPTS) {
          this.deps.log.warn({ ...fields, err: (err as Error).message, attempt: failures }, 'fencing the inconsistent entry failed; trying again');
          this.suspects.push({ ...s, fenceFailures: failures, dueAt: this.elapsed() + this.opts.sloMs });
        } else {
          this.deps.log.error({ ...fields, err: (err as Error).message, attempts: failures }, 'fencing the inconsistent entry failed; given up: it is served until its TTL or the next change of its row');
        }
        continue;
      }
      // false: the script found it fenced or replaced already (another writer won the race).
      this.deps.log.info({ key: s.sample.key, fence: written ? 'written' : 'already_fenced' }, 'inconsistent entry fenced');
    }
    this.deps.metrics.auditHeld.set(this.heldSamples);
  }

  private verdict(sample: AuditSample, inconsistent: boolean): void {
    const m = this.deps.metrics;
    this.checked += 1;
    m.auditChecked.inc();
    if (inconsistent) {
      this.inconsistent += 1;
      m.auditInconsistent.inc();
    }
    m.auditInconsistencyRatio.set(this.inconsistent / this.checked);
    m.auditLag.observe(Math.max(0, this.now() - sample.servedAt) / 1000);
  }
}

/** AuditCache on the invalidator's Redis client. */
export function redisAuditCache(redis: CacheRedis, markerTtlMs: number): AuditCache {
  return {
    async lookup(items) {
      const spaces = [...new Set(items.map((i) => i.space))];
      const [gens, bufs] = await Promise.all([Promise.all(spaces.map((s) => redis.get(generationKey(s)))), Promise.all(items.map((i) => redis.getBuffer(i.key)))]);
      const genOf = new Map(spaces.map((s, i) => [s, gens[i] === null || !/^\d+$/.test(gens[i]!) ? undefined : BigInt(gens[i]!)]));
      return items.map((item, i) => {
        let value: CacheValue | undefined;
        try {
          value = parseCacheValue(bufs[i]!);
        } catch {
          value = undefined; // unreadable: the read path treats it as a miss too
        }
        // As the replica that served the sample compares it: with its payload format folded in
        // (it may run another release than this invalidator).
        const redisGeneration = genOf.get(item.space);
        return { value, generation: redisGeneration === undefined ? undefined : servedGeneration(item.space, item.payloadFormat, redisGeneration) };
      });
    },
    async fence(key, floor) {
      return (await redis.evictToMarker(key, floor.toString(), markerTtlMs)) === 1;
    },
  };
}
