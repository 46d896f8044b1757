import { SettingsError, type ErrorCode } from '../errors';
import { CallerRate } from './caller-rate';

export interface FairShareLimits {
  /** Permits in total (database reads in flight at once). */
  readonly capacity: number;
  /** Most permits one caller holds at once, even when nobody else wants one. */
  readonly perCallerMax: number;
  /** Longest a call waits for a permit before it is shed. */
  readonly maxWaitMs: number;
  /** Deliberate reads one caller may start per second (token bucket); 0 = no rate. */
  readonly perCallerPerSecond?: number;
  /** The bucket's size: reads a caller may start at once after being idle. */
  readonly perCallerBurst?: number;
  /**
   * A refusal made without waiting (over the rate, or too many of the caller's calls already
   * waiting) is answered this much later (never past the call's deadline); 0 = at once.
   */
  readonly refusalDelayMs?: number;
}

/**
 * `shed`: refused over the caller's share; `overloaded`: refused under it, every permit being in
 * use; `rate_limited`: refused without waiting because the caller is over its rate (perCallerPerSecond).
 */
export type AdmissionResult = 'admitted' | 'waited' | 'shed' | 'overloaded' | 'rate_limited';

interface Waiter {
  readonly since: number;
  readonly grant: () => void;
  readonly timer: NodeJS.Timeout;
}

interface Caller {
  active: number;
  readonly waiting: Waiter[];
}

/**
 * A bounded concurrency limiter that is fair per caller. Each caller may hold at most its share:
 * `ceil(capacity / callers holding or waiting for a permit)`, never more than `perCallerMax`.
 * A call over its share waits (at most `maxWaitMs` and its deadline, with at most `2 ×
 * perCallerMax` of the caller's calls waiting) and is then shed with RESOURCE_EXHAUSTED
 * (CALLER_SHARE_EXCEEDED). A call under its share that waits because every permit is in use
 * (other callers hold their shares) is refused as an overloaded server instead: UNAVAILABLE
 * (LOAD_SHED), as RESOURCE_EXHAUSTED would tell a caller within its share to slow down. A
 * freed permit goes to the waiting caller holding the fewest (max-min fairness), so one
 * caller's flood delays another caller by at most one permit's hold time, and `capacity −
 * perCallerMax` permits are always left to the others.
 *
 * On top of the share, each caller may make at most `perCallerPerSecond` deliberate read calls
 * per second (burst `perCallerBurst`, `chargeCall`): a caller over its rate is refused without
 * waiting for a permit, so a flooder can neither keep its share of PostgreSQL busy all the time
 * nor, by reading one key from many streams at once (calls that share a query need no permit),
 * keep the process busy answering it. A refusal made without waiting is answered
 * `refusalDelayMs` later (see `refuse`). Refusals are pre-built errors (no
 * message formatting or stack capture per refused call).
 *
 * Hand-written because no maintained npm limiter keys fairness by caller; it is small and its
 * behaviour is pinned by test/unit/fair-share-limiter.test.ts.
 */
export class FairShareLimiter {
  private readonly callers = new Map<string, Caller>();
  private inUse = 0;
  private readonly rate: CallerRate;
  private readonly overShare: SettingsError;
  private readonly overloaded: SettingsError;
  private readonly overRate: SettingsError;
  private delayedRefusals = 0;

  constructor(
    private readonly limits: FairShareLimits,
    /** Every admission decision, with the caller it was about (metrics; the refused-caller log). */
    private readonly onResult: (result: AdmissionResult, callerId: string) => void = () => undefined,
    private readonly now: () => number = Date.now,
  ) {
    const perSecond = limits.perCallerPerSecond ?? 0;
    this.rate = new CallerRate({ perSecond, burst: Math.max(1, limits.perCallerBurst ?? perSecond) }, now);
    // Shared by every refusal: the caller knows who it is, and an Error's stack is not free.
    this.overShare = prebuilt(
      'CALLER_SHARE_EXCEEDED',
      'the caller has its share of deliberate database reads (fully_consistent or fresher than the cache) in flight; retry with backoff',
    );
    this.overloaded = prebuilt(
      'LOAD_SHED',
      'every permit for deliberate database reads (fully_consistent or fresher than the cache) on this replica is in use; retry with backoff',
    );
    this.overRate = prebuilt(
      'CALLER_SHARE_EXCEEDED',
      `the caller is over its rate of ${perSecond} deliberate database reads (fully_consistent or fresher than the cache) per second; retry with backoff`,
    );
  }

  /**
   * Spends one of `callerId`'s rate for a deliberate read call: undefined when it may go on, a
   * refusal (CALLER_SHARE_EXCEEDED, answered refusalDelayMs later) when it is over its rate.
   * Charged per call, before the call joins or starts a database read: calls that share one
   * query (single-flight) cost the caller a token each, so a flood of fully_consistent reads of
   * one key is bounded by the rate too, not only its queries.
   */
  chargeCall(callerId: string, deadline: number): Promise<never> | undefined {
    if (!this.rate.enabled) return undefined;
    if (!this.rate.allows(callerId)) {
      this.onResult('rate_limited', callerId);
      return this.refuse(this.overRate, deadline);
    }
    this.rate.take(callerId);
    return undefined;
  }

  /** Resolves with the permit's release function, or rejects with CALLER_SHARE_EXCEEDED or LOAD_SHED (`refusal`). */
  acquire(callerId: string, deadline: number): Promise<() => void> {
    const caller = this.callerOf(callerId);
    if (this.inUse < this.limits.capacity && caller.active < this.share()) {
      this.onResult('admitted', callerId);
      return Promise.resolve(this.take(callerId, caller));
    }
    // A waiter refused exactly at the deadline would race the call's own DEADLINE_EXCEEDED and
    // the caller would get no reason and no RetryInfo: it is refused a margin earlier.
    const waitMs = Math.min(this.limits.maxWaitMs, deadline - this.now() - DEADLINE_MARGIN_MS);
    if (waitMs <= 0 || caller.waiting.length >= 2 * this.limits.perCallerMax) {
      const refusal = this.refusal(callerId, caller);
      this.forgetIfIdle(callerId, caller);
      return this.refuse(refusal, deadline);
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        since: this.now(),
        grant: () => {
          clearTimeout(waiter.timer);
          this.onResult('waited', callerId);
          resolve(this.take(callerId, caller));
        },
        timer: setTimeout(() => {
          caller.waiting.splice(caller.waiting.indexOf(waiter), 1);
          const refusal = this.refusal(callerId, caller);
          this.forgetIfIdle(callerId, caller);
          reject(refusal);
        }, waitMs),
      };
      caller.waiting.push(waiter);
    });
  }

  get active(): number {
    return this.inUse;
  }

  /** Permits one caller may hold now. */
  private share(): number {
    return Math.max(1, Math.min(this.limits.perCallerMax, Math.ceil(this.limits.capacity / Math.max(1, this.callers.size))));
  }

  private callerOf(id: string): Caller {
    let caller = this.callers.get(id);
    if (!caller) {
      caller = { active: 0, waiting: [] };
      this.callers.set(id, caller);
    }
    return caller;
  }

  private take(id: string, caller: Caller): () => void {
    this.inUse += 1;
    caller.active += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.inUse -= 1;
      caller.active -= 1;
      this.forgetIfIdle(id, caller);
      this.dispatch();
    };
  }

  /** Hands free permits to waiting callers under their share, fewest held first, then longest waiting. */
  private dispatch(): void {
    while (this.inUse < this.limits.capacity) {
      const share = this.share();
      let next: Caller | undefined;
      for (const c of this.callers.values()) {
        const head = c.waiting[0];
        if (!head || c.active >= share) continue;
        if (!next || c.active < next.active || (c.active === next.active && head.since < next.waiting[0]!.since)) next = c;
      }
      if (!next) return;
      next.waiting.shift()!.grant();
    }
  }

  private forgetIfIdle(id: string, caller: Caller): void {
    if (caller.active === 0 && caller.waiting.length === 0 && this.callers.get(id) === caller) {
      this.callers.delete(id);
      // Fewer callers: the others' shares grew, so waiters may now be eligible.
      this.dispatch();
    }
  }

  /**
   * Rejects with `error`, after refusalDelayMs. A flooder waits for its answers (a client with N
   * streams sends the next call when one is answered), so answering a refusal at once invites
   * the next call at once: a flood of refusals costs every caller CPU (gRPC, HTTP/2) although
   * none of it reaches PostgreSQL. Held refusals cost a timer each; at most
   * MAX_DELAYED_REFUSALS are held, beyond that they are answered at once.
   */
  private refuse(error: SettingsError, deadline: number): Promise<never> {
    const delayMs = Math.min(this.limits.refusalDelayMs ?? 0, deadline - this.now() - DEADLINE_MARGIN_MS);
    if (delayMs <= 0 || this.delayedRefusals >= MAX_DELAYED_REFUSALS) return Promise.reject(error);
    this.delayedRefusals += 1;
    return new Promise((_, reject) =>
      setTimeout(() => {
        this.delayedRefusals -= 1;
        reject(error);
      }, delayMs),
    );
  }

  /**
   * Why a call got no permit, judged while its caller still counts towards the shares: over its
   * share (it holds its share, or 2 × perCallerMax of its calls wait already) is CALLER_SHARE_EXCEEDED;
   * under it the process-wide capacity is what is full, LOAD_SHED.
   */
  private refusal(callerId: string, caller: Caller): SettingsError {
    if (caller.active >= this.share() || caller.waiting.length >= 2 * this.limits.perCallerMax) {
      this.onResult('shed', callerId);
      return this.overShare;
    }
    this.onResult('overloaded', callerId);
    return this.overloaded;
  }
}

/** A held refusal (or a waiter's) is answered this long before the call's deadline, so it is not DEADLINE_EXCEEDED. */
const DEADLINE_MARGIN_MS = 20;
/** Refusals held at once (all callers): bounds the timers and calls a flood can park here. */
const MAX_DELAYED_REFUSALS = 4096;

/** A refusal built once and thrown many times; its stack (where it was built) says nothing anyway. */
function prebuilt(code: ErrorCode, message: string): SettingsError {
  const error = new SettingsError(code, message);
  error.stack = `SettingsError: ${message}`;
  return error;
}
