/** Why a write was not admitted. */
export type WriteRefusal = 'queue_full' | 'would_miss_deadline';

/** An admitted write's place; `release` when it has given its connection back. */
export interface AdmittedWrite {
  /**
   * The write is about to wait for a row lock someone else holds (up to `lock_timeout`). Its
   * connection is then out of the pool's rotation for that long, and its time says nothing of
   * how fast the pool serves the others: it is paced apart from them.
   */
  waitsForLock(): void;
  release(): void;
}

/** Moving averages, ms. */
const ewma = (previous: number | undefined, sample: number): number => (previous === undefined ? sample : 0.8 * previous + 0.2 * sample);

/**
 * Admission of saves to the write pool. The pool's own queue (tarn, behind knex) has no bound
 * and no notion of deadlines: under a save burst on a busy host every save waited there until
 * its deadline and timed out, holding its caller for the whole of it. Here a save is refused at
 * once, retryable, when `maxInFlight` saves already hold or wait for a connection, or when the
 * saves ahead of it would, at the recent pace, keep it waiting past its deadline. Bursts that
 * the pool drains in time are admitted whole.
 *
 * Saves that wait for someone else's row lock (a bulk UPDATE's) hold their connection for up to
 * `lock_timeout` each. They are counted apart: they narrow the pool the other saves share, and
 * their time is not the other saves' pace. Mixed into one average (as before), a few saves
 * waiting 1 s for a bulk UPDATE's locks made every save look 1 s long, and the incident replay's
 * burst refused 1,000 of 2,200 saves as `would_miss_deadline` while the write pool was mostly idle.
 */
export class WriteAdmission {
  private inFlight = 0;
  /** Admitted writes currently waiting for (or holding a connection after) a row lock wait. */
  private lockWaiting = 0;
  /**
   * One write's time on a connection, for writes that did not wait for a row lock: how long an
   * admitted write held its place (waiting + running) divided by the waves of writes it had to
   * wait for plus its own.
   */
  private servicePaceMs: number | undefined;
  /** How long a write that waited for a row lock kept its connection. */
  private lockHoldMs: number | undefined;

  constructor(
    /** Connections of the write pool: this many run at once, the rest wait. */
    private readonly connections: number,
    /** Connections + the longest queue (DB_WRITE_POOL_MAX + DB_WRITE_QUEUE_MAX). */
    readonly maxInFlight: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** The admitted write's place; otherwise why it is refused. */
  admit(deadline: number): AdmittedWrite | WriteRefusal {
    if (this.inFlight >= this.maxInFlight) return 'queue_full';
    const admittedAt = this.now();
    const waves = this.wavesAhead();
    const wait = this.predictedWaitMs(waves);
    if (wait !== undefined && admittedAt + wait > deadline) return 'would_miss_deadline';
    this.inFlight += 1;
    let released = false;
    let waitedForLock = false;
    return {
      waitsForLock: () => {
        if (released || waitedForLock) return;
        waitedForLock = true;
        this.lockWaiting += 1;
      },
      release: () => {
        if (released) return;
        released = true;
        this.inFlight -= 1;
        const held = this.now() - admittedAt;
        if (waitedForLock) {
          this.lockWaiting -= 1;
          this.lockHoldMs = ewma(this.lockHoldMs, held);
        } else {
          this.servicePaceMs = ewma(this.servicePaceMs, held / (waves + 1));
        }
      },
    };
  }

  /** Connections the writes that do not wait for a lock share right now. */
  private get width(): number {
    return this.connections - this.lockWaiting;
  }

  /** Waves of writes (a width each) that must end before a newcomer gets a connection. */
  private wavesAhead(): number {
    const width = this.width;
    if (width <= 0) return 0;
    return Math.max(0, Math.ceil((this.inFlight - this.lockWaiting - width + 1) / width));
  }

  /**
   * How long a newcomer would wait and run, when that is known: a connection is free, or the
   * pace has been measured. While lock waiters hold every connection, it waits for one of them.
   */
  private predictedWaitMs(waves: number): number | undefined {
    if (this.width <= 0) {
      if (this.lockHoldMs === undefined) return undefined;
      return this.lockHoldMs + (this.servicePaceMs ?? 0);
    }
    if (waves === 0 || this.servicePaceMs === undefined) return undefined;
    return (waves + 1) * this.servicePaceMs;
  }

  /**
   * How long until the saves ahead of a newcomer have made room for it at the recent pace (the
   * waves ahead, each one write long; while lock waiters hold every connection, one of them
   * ending): the RetryInfo delay of a refused save. Undefined while no pace has been measured.
   */
  drainMs(): number | undefined {
    const waves = this.wavesAhead();
    const wait = this.predictedWaitMs(waves);
    if (wait === undefined) return undefined;
    return this.width <= 0 ? wait : waves * (this.servicePaceMs ?? 0);
  }

  get active(): number {
    return this.inFlight;
  }
}
