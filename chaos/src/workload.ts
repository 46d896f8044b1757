import type { ChaosSizes } from './config';
import { sqlErrorName, type HarnessDb } from './db';
import { deleteRow, updateRow, type SettingsKey } from './keys';
import { intBelow, pickSkewed, streamFor, type Prng } from './prng';
import type { SettingsCaller } from './settings-client';
import { Tally } from './tally';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * The seeded, bounded workload that runs through a fault: gRPC writers (Update RPCs with
 * allow_missing), psql writers (upserts straight to PostgreSQL, versioned by the trigger like a
 * migration or a person in psql, and one in `deleteEvery` a DELETE of the row), and readers
 * doing default Gets all the time so the cache is always being filled — a fill racing an
 * invalidation is exactly what can leave a stale entry behind, and a cached absence racing a
 * creation a stale NOT_FOUND.
 *
 * Each worker picks keys from its own PRNG stream of the run's seed. Written values are unique
 * (`<worker>-<n>`), so a stale value can always be told from a fresh one.
 */
export class Workload {
  readonly tally = new Tally();
  private running = false;
  private loops: Array<Promise<void>> = [];
  /** Keys the writers leave alone (a scenario owns them for a while); readers still read them. */
  private readonly reserved = new Set<string>();
  private writersPaused = false;

  constructor(
    private readonly keys: readonly SettingsKey[],
    private readonly sizes: ChaosSizes,
    private readonly seed: number,
    private readonly caller: SettingsCaller,
    private readonly db: HarnessDb,
    /** Distinguishes the values of one scenario from another's in logs and results. */
    private readonly tag: string,
    /** Whether psql writers delete rows (sizes.deleteEvery); off where the scenario's fault would lose deletes by design. */
    private readonly deletes = true,
  ) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    const s = this.sizes;
    for (let i = 0; i < s.grpcWriters; i++) this.loops.push(this.loop(`grpc-writer-${i}`, s.writeIntervalMs, (rng, n) => this.grpcWrite(rng, `${this.tag}g${i}-${n}`)));
    for (let i = 0; i < s.sqlWriters; i++) this.loops.push(this.loop(`sql-writer-${i}`, s.writeIntervalMs, (rng, n) => this.sqlWrite(rng, `${this.tag}s${i}-${n}`)));
    for (let i = 0; i < s.readers; i++) this.loops.push(this.loop(`reader-${i}`, s.readIntervalMs, (rng) => this.read(rng)));
  }

  /** Stops every worker after its current call (each call has a deadline, so this is bounded). */
  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
    this.loops = [];
  }

  /** Writers skip these keys until released (a planted entry must not be healed by a workload write). */
  reserve(keys: readonly SettingsKey[]): void {
    for (const k of keys) this.reserved.add(k.name);
  }

  release(keys: readonly SettingsKey[]): void {
    for (const k of keys) this.reserved.delete(k.name);
  }

  /**
   * Writers stop writing (readers go on) until resumed: what the invalidators evict meanwhile is
   * not the workload's doing. A write already under way finishes (bounded by its deadline).
   */
  pauseWriters(): void {
    this.writersPaused = true;
  }

  resumeWriters(): void {
    this.writersPaused = false;
  }

  /** The writers' next key, or undefined when it is reserved or the writers are paused (no write this round). */
  private writeTarget(rng: Prng): SettingsKey | undefined {
    const key = pickSkewed(rng, this.keys);
    return this.writersPaused || this.reserved.has(key.name) ? undefined : key;
  }

  private async loop(purpose: string, intervalMs: number, step: (rng: Prng, n: number) => Promise<void>): Promise<void> {
    const rng = streamFor(this.seed, `${this.tag}/${purpose}`);
    for (let n = 0; this.running; n++) {
      await step(rng, n);
      await sleep(intervalMs);
    }
  }

  private async grpcWrite(rng: Prng, value: string): Promise<void> {
    const key = this.writeTarget(rng);
    if (!key) return;
    const r = await this.caller.update(key, value, this.sizes.callDeadlineMs);
    if (r.ok) this.tally.writes++;
    else this.tally.error(r.code);
  }

  private async sqlWrite(rng: Prng, value: string): Promise<void> {
    const key = this.writeTarget(rng);
    if (!key) return;
    try {
      const every = this.deletes ? this.sizes.deleteEvery : 0;
      if (every > 0 && intBelow(rng, every) === 0) await deleteRow(this.db, key);
      else await updateRow(this.db, key, value);
      this.tally.writes++;
    } catch (err) {
      this.tally.error(sqlErrorName(err));
    }
  }

  private async read(rng: Prng): Promise<void> {
    const r = await this.caller.get(pickSkewed(rng, this.keys), 'default', this.sizes.callDeadlineMs);
    if (r.ok || r.code === 'NOT_FOUND') this.tally.reads++;
    if (r.ok) return;
    if (r.code === 'NOT_FOUND') this.tally.notFound++;
    else this.tally.error(r.code);
  }
}
