/** Why a write was not admitted. */
export type WriteRefusal = 'queue_full' | 'would_miss_deadline';

/**
 * Admission of saves to the write pool. The pool's own queue (tarn, behind knex) has no bound
 * and no notion of deadlines: under a save burst on a busy host every save waited there until
 * its deadline and timed out, holding its caller for the whole of it. Here a save is refused at
 * once, retryable, when `maxInFlight` saves already hold or wait for a connection, or when the
 * saves ahead of it would, at the recent pace, keep it waiting past its deadline. Bursts that
 * the pool drains in time are admitted whole.
 */
export class WriteAdmission {
  private inFlight = 0;
  /**
   * Moving average of one write's time on a connection, ms: how long an admitted write held
   * its place (waiting + running) divided by the waves of writes it had to wait for plus its own.
   */
  private serviceMs: number | undefined;

  constructor(
    /** Connections of the write pool: this many run at once, the rest wait. */
    private readonly connections: number,
    /** Connections + the longest queue (DB_WRITE_POOL_MAX + DB_WRITE_QUEUE_MAX). */
    readonly maxInFlight: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** A release function for an admitted write; otherwise why it is refused. */
  admit(deadline: number): (() => void) | WriteRefusal {
    if (this.inFlight >= this.maxInFlight) return 'queue_full';
    // Waves of writes (a pool's width each) that must end before this one gets a connection.
    const waves = Math.max(0, Math.ceil((this.inFlight - this.connections + 1) / this.connections));
    const admittedAt = this.now();
    if (waves > 0 && this.serviceMs !== undefined && admittedAt + (waves + 1) * this.serviceMs > deadline) return 'would_miss_deadline';
    this.inFlight += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.inFlight -= 1;
      const service = (this.now() - admittedAt) / (waves + 1);
      this.serviceMs = this.serviceMs === undefined ? service : 0.8 * this.serviceMs + 0.2 * service;
    };
  }

  get active(): number {
    return this.inFlight;
  }
}
