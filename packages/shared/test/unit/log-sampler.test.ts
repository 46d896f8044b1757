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
});
