import { status as GrpcStatus } from '@grpc/grpc-js';
import { ErrorInfo, RetryInfo, Status } from '@settings/api';
import { FairShareLimiter, type AdmissionResult } from '../../src/admission/fair-share-limiter';
import { SettingsError } from '../../src/errors';
import { toServiceError } from '../../src/grpc/status-mapping';

const FAR = Number.POSITIVE_INFINITY;

/** Settles pending promise callbacks (permits are handed out synchronously on release). */
const flush = (): Promise<void> => new Promise((r) => setImmediate(r));

function limiter(capacity: number, perCallerMax: number, maxWaitMs = 1000) {
  const results: AdmissionResult[] = [];
  return { l: new FairShareLimiter({ capacity, perCallerMax, maxWaitMs }, (r) => results.push(r)), results };
}

async function shedCode(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (err) {
    return err instanceof SettingsError ? err.code : String(err);
  }
}

describe('FairShareLimiter', () => {
  it('a caller alone gets at most perCallerMax permits; the rest wait, then are shed with CALLER_SHARE_EXCEEDED', async () => {
    jest.useFakeTimers();
    try {
      const { l, results } = limiter(6, 3, 100);
      const held = await Promise.all([1, 2, 3].map(() => l.acquire('flood', FAR)));
      expect(l.active).toBe(3);
      // 2 × perCallerMax may wait; the seventh is refused at once.
      const waiting = Array.from({ length: 6 }, () => shedCode(l.acquire('flood', FAR)));
      expect(await shedCode(l.acquire('flood', FAR))).toBe('CALLER_SHARE_EXCEEDED');
      jest.advanceTimersByTime(100);
      expect(await Promise.all(waiting)).toEqual(Array(6).fill('CALLER_SHARE_EXCEEDED'));
      expect(results.filter((r) => r === 'shed')).toHaveLength(7);
      held.forEach((release) => release());
      expect(l.active).toBe(0);
    } finally {
      jest.useRealTimers();
    }
  });

  it('another caller gets a permit at once while one caller floods', async () => {
    const { l } = limiter(6, 3);
    const flood = await Promise.all([1, 2, 3].map(() => l.acquire('flood', FAR)));
    const floodWaiting = l.acquire('flood', FAR);
    const other = await l.acquire('other', FAR);
    expect(l.active).toBe(4);
    other();
    flood.forEach((r) => r());
    (await floodWaiting)();
  });

  it('a freed permit goes to the waiting caller holding the fewest (max-min), not to the flooder queued first', async () => {
    const { l, results } = limiter(4, 4);
    const flood = await Promise.all([1, 2, 3, 4].map(() => l.acquire('flood', FAR)));
    const order: string[] = [];
    const floodWait = l.acquire('flood', FAR).then((r) => (order.push('flood'), r));
    const otherWait = l.acquire('other', FAR).then((r) => (order.push('other'), r));
    flood[0]!();
    await flush();
    expect(order).toEqual(['other']);
    // Two callers now: share = 2. The flooder holds 3, so the next free permit is not its yet.
    flood[1]!();
    await flush();
    expect(order).toEqual(['other']);
    flood[2]!();
    await flush();
    expect(order).toEqual(['other', 'flood']);
    expect(results).toEqual(['admitted', 'admitted', 'admitted', 'admitted', 'waited', 'waited']);
    (await otherWait)();
    (await floodWait)();
    flood[3]!();
    expect(l.active).toBe(0);
  });

  it('shares shrink as callers arrive: with capacity 6 and three callers each gets 2', async () => {
    const { l } = limiter(6, 6);
    const a = await Promise.all([1, 2].map(() => l.acquire('a', FAR)));
    const b = await Promise.all([1, 2].map(() => l.acquire('b', FAR)));
    const c = await Promise.all([1, 2].map(() => l.acquire('c', FAR)));
    const aThird = l.acquire('a', FAR);
    let granted = false;
    void aThird.then(() => (granted = true));
    await flush();
    expect(granted).toBe(false);
    // c leaves: two callers, share 3, and a free permit: a's waiter gets it.
    c.forEach((r) => r());
    await flush();
    expect(granted).toBe(true);
    [...a, ...b, await aThird].forEach((r) => r());
    expect(l.active).toBe(0);
  });

  it('never waits past the call deadline; a call already out of time is shed at once', async () => {
    const { l } = limiter(1, 1, 10_000);
    const held = await l.acquire('a', FAR);
    expect(await shedCode(l.acquire('a', Date.now() - 1))).toBe('CALLER_SHARE_EXCEEDED');
    const t0 = Date.now();
    // b holds nothing: the one permit being a's is overload, not b over its share.
    expect(await shedCode(l.acquire('b', Date.now() + 30))).toBe('LOAD_SHED');
    expect(Date.now() - t0).toBeLessThan(5000);
    held();
  });

  it('a waiter is refused before its call deadline (with its reason), not at it, where the call would end DEADLINE_EXCEEDED', async () => {
    jest.useFakeTimers();
    try {
      const { l } = limiter(1, 1, 250);
      const held = await l.acquire('a', FAR);
      let settledAt: number | undefined;
      const deadline = Date.now() + 150;
      const refused = l.acquire('b', deadline).catch((e: unknown) => {
        settledAt = Date.now();
        return e;
      });
      await jest.advanceTimersByTimeAsync(150);
      expect(await refused).toMatchObject({ code: 'LOAD_SHED' });
      expect(settledAt).toBeLessThanOrEqual(deadline - 20);
      held();
    } finally {
      jest.useRealTimers();
    }
  });

  it('a caller under its share that times out because every permit is in use is refused as overload: UNAVAILABLE (LOAD_SHED) with RetryInfo, not CALLER_SHARE_EXCEEDED', async () => {
    jest.useFakeTimers();
    try {
      const { l, results } = limiter(6, 3, 250);
      const held = [...(await Promise.all([1, 2, 3].map(() => l.acquire('A', FAR)))), ...(await Promise.all([1, 2, 3].map(() => l.acquire('B', FAR))))];
      const refused = l.acquire('C', FAR).catch((e: unknown) => e);
      await jest.advanceTimersByTimeAsync(250);
      const err = (await refused) as SettingsError;
      expect({ code: err.code, message: err.message }).toEqual({ code: 'LOAD_SHED', message: expect.not.stringContaining('share') });
      expect(results.slice(6)).toEqual(['overloaded']);
      const wire = toServiceError(err);
      expect(wire.code).toBe(GrpcStatus.UNAVAILABLE);
      const details = Status.decode(wire.metadata!.get('grpc-status-details-bin')[0] as Buffer).details;
      expect(ErrorInfo.decode(details.find((d) => d.typeUrl === 'type.googleapis.com/google.rpc.ErrorInfo')!.value).reason).toBe('LOAD_SHED');
      expect(RetryInfo.decode(details.find((d) => d.typeUrl === 'type.googleapis.com/google.rpc.RetryInfo')!.value)).toEqual({ retryDelay: { seconds: 0, nanos: 200_000_000 } });
      // A, over its share meanwhile, is still CALLER_SHARE_EXCEEDED.
      const overShare = shedCode(l.acquire('A', FAR));
      await jest.advanceTimersByTimeAsync(250);
      expect(await overShare).toBe('CALLER_SHARE_EXCEEDED');
      held.forEach((release) => release());
      expect(l.active).toBe(0);
    } finally {
      jest.useRealTimers();
    }
  });

  it('a release is idempotent and idle callers are forgotten', async () => {
    const { l } = limiter(2, 1);
    const r = await l.acquire('a', FAR);
    r();
    r();
    expect(l.active).toBe(0);
    const again = await Promise.all([l.acquire('a', FAR), l.acquire('b', FAR)]);
    expect(l.active).toBe(2);
    again.forEach((x) => x());
  });

  it('every call spends a token of its caller (chargeCall); a caller over its rate is refused at once while another caller goes on; permits are not charged again', async () => {
    let now = 0;
    const results: AdmissionResult[] = [];
    const l = new FairShareLimiter({ capacity: 6, perCallerMax: 1, maxWaitMs: 10_000, perCallerPerSecond: 10, perCallerBurst: 3 }, (r) => results.push(r), () => now);
    // Three calls (whether they go on to share one query or not) spend the burst.
    for (let i = 0; i < 3; i += 1) expect(l.chargeCall('flood', FAR)).toBeUndefined();
    let settled = false;
    const refused = shedCode(l.chargeCall('flood', FAR)!).then((code) => ((settled = true), code));
    await flush();
    expect(settled).toBe(true);
    expect(await refused).toBe('CALLER_SHARE_EXCEEDED');
    expect(l.chargeCall('other', FAR)).toBeUndefined();
    // A permit for a call already charged is not refused by the rate.
    (await l.acquire('flood', FAR))();
    now += 100; // one token back at 10/s
    expect(l.chargeCall('flood', FAR)).toBeUndefined();
    expect(results).toEqual(['rate_limited', 'admitted']);
    expect(l.active).toBe(0);
  });

  it('with no rate configured every call goes on', () => {
    const { l } = limiter(1, 1);
    for (let i = 0; i < 100; i += 1) expect(l.chargeCall('flood', FAR)).toBeUndefined();
  });

  it('refusals carry the reason, built once, without the caller id', async () => {
    const { l } = limiter(1, 1, 0);
    const held = await l.acquire('caller-xyz', FAR);
    const errors = await Promise.all([l.acquire('caller-xyz', FAR).catch((e: unknown) => e), l.acquire('caller-xyz', FAR).catch((e: unknown) => e)]);
    expect(errors[0]).toBeInstanceOf(SettingsError);
    expect(errors[0]).toBe(errors[1]);
    expect((errors[0] as SettingsError).code).toBe('CALLER_SHARE_EXCEEDED');
    expect((errors[0] as SettingsError).message).not.toContain('caller-xyz');
    held();
  });

  it('a refusal made without waiting is answered refusalDelayMs later, never past the deadline', async () => {
    jest.useFakeTimers();
    try {
      const l = new FairShareLimiter({ capacity: 6, perCallerMax: 3, maxWaitMs: 250, perCallerPerSecond: 1, perCallerBurst: 1, refusalDelayMs: 100 }, () => undefined, Date.now);
      expect(l.chargeCall('flood', FAR)).toBeUndefined();
      let code: string | undefined;
      void shedCode(l.chargeCall('flood', FAR)!).then((c) => (code = c));
      await jest.advanceTimersByTimeAsync(99);
      expect(code).toBeUndefined();
      await jest.advanceTimersByTimeAsync(1);
      expect(code).toBe('CALLER_SHARE_EXCEEDED');
      // A call with 50 ms left hears it 20 ms before its deadline; one without time left at once.
      let early: string | undefined;
      void shedCode(l.chargeCall('flood', Date.now() + 50)!).then((c) => (early = c));
      await jest.advanceTimersByTimeAsync(30);
      expect(early).toBe('CALLER_SHARE_EXCEEDED');
      expect(await shedCode(l.chargeCall('flood', Date.now())!)).toBe('CALLER_SHARE_EXCEEDED');
    } finally {
      jest.useRealTimers();
    }
  });
});
