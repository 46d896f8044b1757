import { WriteAdmission } from '../../src/db/write-admission';

describe('WriteAdmission', () => {
  let now = 0;
  const clock = (): number => now;

  it('admits a burst the pool drains before its deadline, refuses beyond the hard bound', () => {
    now = 0;
    const admission = new WriteAdmission(2, 6, clock);
    const leaves = Array.from({ length: 6 }, () => admission.admit(Number.POSITIVE_INFINITY));
    expect(leaves.every((l) => typeof l === 'function')).toBe(true);
    expect(admission.admit(Number.POSITIVE_INFINITY)).toBe('queue_full');
    (leaves[0] as () => void)();
    expect(typeof admission.admit(Number.POSITIVE_INFINITY)).toBe('function');
  });

  it('refuses a save the ones ahead would keep waiting past its deadline, at the pace measured', () => {
    now = 0;
    const admission = new WriteAdmission(2, 100, clock);
    // Two saves run 100 ms each: one save's time on a connection is now known (100 ms).
    const first = [admission.admit(1000), admission.admit(1000)] as Array<() => void>;
    now = 100;
    first.forEach((leave) => leave());
    // Two on the connections, four waiting: a newcomer waits for 3 waves of 100 ms, then runs.
    const held = Array.from({ length: 6 }, () => admission.admit(now + 10_000)) as Array<() => void>;
    expect(held.every((l) => typeof l === 'function')).toBe(true);
    expect(admission.admit(now + 350)).toBe('would_miss_deadline');
    expect(typeof admission.admit(now + 450)).toBe('function');
    expect(admission.active).toBe(7);
  });

  it('never refuses by deadline while a connection is free or before any save has finished', () => {
    now = 0;
    const admission = new WriteAdmission(2, 100, clock);
    expect(typeof admission.admit(1)).toBe('function');
    expect(typeof admission.admit(1)).toBe('function');
    // Both connections busy, but no pace measured yet: admitted.
    expect(typeof admission.admit(1)).toBe('function');
  });
});
