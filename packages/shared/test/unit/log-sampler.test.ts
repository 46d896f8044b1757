import { LogSampler } from '../../src';

describe('LogSampler', () => {
  it('lets the first occurrence of an interval through and counts the rest for the next line', () => {
    let now = 0;
    const sampler = new LogSampler(1000, () => now);
    expect(sampler.take()).toBe(0);
    for (let i = 0; i < 5; i++) {
      now += 100;
      expect(sampler.take()).toBeUndefined();
    }
    now = 1000;
    expect(sampler.take()).toBe(5);
    now = 1500;
    expect(sampler.take()).toBeUndefined();
    now = 5000;
    expect(sampler.take()).toBe(1);
    expect(sampler.take()).toBeUndefined();
  });

  describe('with a summary', () => {
    beforeEach(() => jest.useFakeTimers({ now: 0 }));
    afterEach(() => jest.useRealTimers());

    it("reports the occurrences of a window's end that no later line claimed, once, when the window ends", () => {
      const sampler = new LogSampler(1000);
      const summaries: number[] = [];
      const summarize = (n: number): number => summaries.push(n);
      expect(sampler.take(summarize)).toBe(0);
      jest.advanceTimersByTime(300);
      for (let i = 0; i < 3; i++) expect(sampler.take(summarize)).toBeUndefined();
      jest.advanceTimersByTime(699);
      expect(summaries).toEqual([]);
      jest.advanceTimersByTime(1);
      expect(summaries).toEqual([3]);
      jest.advanceTimersByTime(10_000);
      expect(summaries).toEqual([3]);
      // Counted once: the next line stands for none of them.
      expect(sampler.take(summarize)).toBe(0);
    });

    it('says nothing at the end of a window whose unlogged occurrences a later line already claimed', () => {
      const sampler = new LogSampler(1000);
      const summaries: number[] = [];
      const summarize = (n: number): number => summaries.push(n);
      sampler.take(summarize);
      jest.advanceTimersByTime(500);
      sampler.take(summarize);
      // The timer comes late (a busy event loop): the next occurrence is logged first, with the count.
      jest.setSystemTime(1200);
      expect(sampler.take(summarize)).toBe(1);
      jest.advanceTimersByTime(5000);
      expect(summaries).toEqual([]);
    });
  });
});
