import { WriteAdmission, type AdmittedWrite, type WriteRefusal } from '../../src/db/write-admission';

const admitted = (a: AdmittedWrite | WriteRefusal): AdmittedWrite => {
  if (typeof a === 'string') throw new Error(`refused: ${a}`);
  return a;
};

describe('WriteAdmission', () => {
  let now = 0;
  const clock = (): number => now;

  it('admits a burst the pool drains before its deadline, refuses beyond the hard bound', () => {
    now = 0;
    const admission = new WriteAdmission(2, 6, clock);
    const places = Array.from({ length: 6 }, () => admission.admit(Number.POSITIVE_INFINITY));
    expect(places.every((p) => typeof p !== 'string')).toBe(true);
    expect(admission.admit(Number.POSITIVE_INFINITY)).toBe('queue_full');
    admitted(places[0]!).release();
    expect(typeof admission.admit(Number.POSITIVE_INFINITY)).not.toBe('string');
  });

  it('refuses a save the ones ahead would keep waiting past its deadline, at the pace measured', () => {
    now = 0;
    const admission = new WriteAdmission(2, 100, clock);
    // Two saves run 100 ms each: one save's time on a connection is now known (100 ms).
    const first = [admission.admit(1000), admission.admit(1000)].map(admitted);
    now = 100;
    first.forEach((w) => w.release());
    // Two on the connections, four waiting: a newcomer waits for 3 waves of 100 ms, then runs.
    const held = Array.from({ length: 6 }, () => admission.admit(now + 10_000));
    expect(held.every((p) => typeof p !== 'string')).toBe(true);
    expect(admission.admit(now + 350)).toBe('would_miss_deadline');
    // What the refused save is told to wait: the 3 waves ahead of it.
    expect(admission.drainMs()).toBe(300);
    expect(typeof admission.admit(now + 450)).not.toBe('string');
    expect(admission.active).toBe(7);
  });

  it('has no drain estimate before any save finished, and none while a connection is free', () => {
    now = 0;
    const admission = new WriteAdmission(2, 100, clock);
    const first = admitted(admission.admit(1000));
    expect(admission.drainMs()).toBeUndefined();
    now = 50;
    first.release();
    admitted(admission.admit(1000));
    expect(admission.drainMs()).toBeUndefined();
  });

  it('never refuses by deadline while a connection is free or before any save has finished', () => {
    now = 0;
    const admission = new WriteAdmission(2, 100, clock);
    expect(typeof admission.admit(1)).not.toBe('string');
    expect(typeof admission.admit(1)).not.toBe('string');
    // Both connections busy, but no pace measured yet: admitted.
    expect(typeof admission.admit(1)).not.toBe('string');
  });

  it('does not take the time of saves that waited for a row lock as the pace of the others', () => {
    now = 0;
    const admission = new WriteAdmission(5, 100, clock);
    // Fast saves: 10 ms each.
    for (let i = 0; i < 5; i += 1) {
      const w = admitted(admission.admit(now + 2000));
      now += 10;
      w.release();
    }
    // Two saves wait 1 s for a bulk UPDATE's row locks, then give up (lock_timeout).
    for (let i = 0; i < 2; i += 1) {
      const w = admitted(admission.admit(now + 2000));
      w.waitsForLock();
      now += 1000;
      w.release();
    }
    // Two others wait again; the three other connections are busy and seven more saves are in
    // line: three waves of 10 ms ahead, so a newcomer with 100 ms left is in time. Mixed into
    // one average, the lock waits made the pace ~370 ms a save and refused it.
    const lockWaiters = [admitted(admission.admit(now + 2000)), admitted(admission.admit(now + 2000))];
    lockWaiters.forEach((w) => w.waitsForLock());
    for (let i = 0; i < 10; i += 1) admitted(admission.admit(now + 2000));
    expect(typeof admission.admit(now + 100)).not.toBe('string');
    // Behind it, still three waves plus its own turn: 30 ms is too little.
    expect(admission.admit(now + 30)).toBe('would_miss_deadline');
  });

  it('while lock waiters hold every connection, a newcomer waits for one of them at their measured pace', () => {
    now = 0;
    const admission = new WriteAdmission(1, 100, clock);
    const first = admitted(admission.admit(now + 10_000));
    first.waitsForLock();
    // No lock wait has ended yet: nothing is known, so nothing is refused by deadline.
    expect(typeof admission.admit(now + 50)).not.toBe('string');
    now += 800;
    first.release();
    const second = admitted(admission.admit(now + 10_000));
    second.waitsForLock();
    // The one ahead held its connection 800 ms last time.
    expect(admission.admit(now + 150)).toBe('would_miss_deadline');
    expect(admission.drainMs()).toBe(800);
    expect(typeof admission.admit(now + 15_000)).not.toBe('string');
  });
});
