import type { ChaosSizes } from './config';
import { sqlErrorName, type HarnessDb } from './db';
import { updateRow, type SettingsKey } from './keys';
import { pickSkewed, streamFor, type Prng } from './prng';
import type { SettingsCaller } from './settings-client';
import { Tally } from './tally';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * The seeded, bounded workload that runs through a fault: gRPC writers (Update RPCs), psql
 * writers (UPDATEs straight to PostgreSQL, versioned by the trigger like a migration or a
 * person in psql), and readers doing default Gets all the time so the cache is always being
 * filled — a fill racing an invalidation is exactly what can leave a stale entry behind.
 *
 * Each worker picks keys from its own PRNG stream of the run's seed. Written values are unique
 * (`<worker>-<n>`), so a stale value can always be told from a fresh one.
 */
export class Workload {
  readonly tally = new Tally();
  private running = false;
  private loops: Array<Promise<void>> = [];

  constructor(
    private readonly keys: readonly SettingsKey[],
    private readonly sizes: ChaosSizes,
    private readonly seed: number,
    private readonly caller: SettingsCaller,
    private readonly db: HarnessDb,
    /** Distinguishes the values of one scenario from another's in logs and results. */
    private readonly tag: string,
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

  private async loop(purpose: string, intervalMs: number, step: (rng: Prng, n: number) => Promise<void>): Promise<void> {
    const rng = streamFor(this.seed, `${this.tag}/${purpose}`);
    for (let n = 0; this.running; n++) {
      await step(rng, n);
      await sleep(intervalMs);
    }
  }

  private async grpcWrite(rng: Prng, value: string): Promise<void> {
    const r = await this.caller.update(pickSkewed(rng, this.keys), value, this.sizes.callDeadlineMs);
    if (r.ok) this.tally.writes++;
    else this.tally.error(r.code);
  }

  private async sqlWrite(rng: Prng, value: string): Promise<void> {
    try {
      await updateRow(this.db, pickSkewed(rng, this.keys), value);
      this.tally.writes++;
    } catch (err) {
      this.tally.error(sqlErrorName(err));
    }
  }

  private async read(rng: Prng): Promise<void> {
    const r = await this.caller.get(pickSkewed(rng, this.keys), 'default', this.sizes.callDeadlineMs);
    if (r.ok) this.tally.reads++;
    else this.tally.error(r.code);
  }
}
