import { poolWaitsBetween } from '../../src/scenarios/incident-replay/target';

describe('waits for a write connection between two readings', () => {
  it('count only the waits that ended in between, with their mean and the share longer than the bound', () => {
    const before = { count: 10, sumSeconds: 0.5, within: 10, withinSeconds: 0.25 };
    const after = { count: 14, sumSeconds: 2.1, within: 11, withinSeconds: 0.25 };
    expect(poolWaitsBetween(before, after)).toEqual({ waits: 4, meanMs: 400, longerThanMs: 250, longerShare: 0.75 });
  });

  it('say nothing of a mean or share when there was no wait', () => {
    const same = { count: 3, sumSeconds: 0.1, within: 3, withinSeconds: 0.25 };
    const summary = poolWaitsBetween(same, same);
    expect(summary.waits).toBe(0);
    expect(summary.meanMs).toBeNaN();
    expect(summary.longerShare).toBeNaN();
  });
});
