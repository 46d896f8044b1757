import { SettingsError } from '../errors';

export interface FairShareLimits {
  /** Permits in total (database reads in flight at once). */
  readonly capacity: number;
  /** Most permits one caller holds at once, even when nobody else wants one. */
  readonly perCallerMax: number;
  /** Longest a call waits for a permit before it is shed. */
  readonly maxWaitMs: number;
}

export type AdmissionResult = 'admitted' | 'waited' | 'shed';

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
 * (CALLER_SHARE_EXCEEDED). A freed permit goes to the waiting caller holding the fewest
 * (max-min fairness), so one caller's flood delays another caller by at most one permit's
 * hold time, and `capacity − perCallerMax` permits are always left to the others.
 *
 * Hand-written because no maintained npm limiter keys fairness by caller; it is small and its
 * behaviour is pinned by test/unit/fair-share-limiter.test.ts.
 */
export class FairShareLimiter {
  private readonly callers = new Map<string, Caller>();
  private inUse = 0;

  constructor(
    private readonly limits: FairShareLimits,
    private readonly onResult: (result: AdmissionResult) => void = () => undefined,
    private readonly now: () => number = Date.now,
  ) {}

  /** Resolves with the permit's release function, or rejects with CALLER_SHARE_EXCEEDED. */
  acquire(callerId: string, deadline: number): Promise<() => void> {
    const caller = this.callerOf(callerId);
    if (this.inUse < this.limits.capacity && caller.active < this.share()) {
      this.onResult('admitted');
      return Promise.resolve(this.take(callerId, caller));
    }
    const waitMs = Math.min(this.limits.maxWaitMs, deadline - this.now());
    if (waitMs <= 0 || caller.waiting.length >= 2 * this.limits.perCallerMax) {
      this.forgetIfIdle(callerId, caller);
      return Promise.reject(this.shed(callerId));
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        since: this.now(),
        grant: () => {
          clearTimeout(waiter.timer);
          this.onResult('waited');
          resolve(this.take(callerId, caller));
        },
        timer: setTimeout(() => {
          caller.waiting.splice(caller.waiting.indexOf(waiter), 1);
          this.forgetIfIdle(callerId, caller);
          reject(this.shed(callerId));
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

  private shed(callerId: string): SettingsError {
    this.onResult('shed');
    return new SettingsError(
      'CALLER_SHARE_EXCEEDED',
      `caller ${callerId} has its share of deliberate database reads (fully_consistent or fresher than the cache) in flight; retry with backoff`,
    );
  }
}
