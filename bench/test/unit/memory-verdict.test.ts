import { rssStats } from '../../src/scenarios/memory';
import { memoryVerdictText, postWarmupText } from '../../src/report/sections/memory';
import { busyShare, parseCpuTicks } from '../../src/cpu-settle';

/** One sample every 2 s for 600 s: a spike at the warm-up cut, then a level that rises `perMinute` MiB/min. */
const soak = (perMinute: number): Array<[number, number]> =>
  Array.from({ length: 300 }, (_, i) => {
    const s = 1 + 2 * i;
    return [s, i === 30 ? 204 : 160 + (perMinute * s) / 60] as [number, number];
  });

describe('memory soak verdict', () => {
  it('starts at the median of the first minute after warm-up, not at a spike on the cut', () => {
    const st = rssStats(soak(0.45));
    expect(st.startMiB).toBe(204);
    expect(st.startMedianMiB).toBeGreaterThan(160);
    expect(st.startMedianMiB).toBeLessThan(165);
    expect(postWarmupText(st)).toMatch(/^16\d(\.\d)? → 16\d(\.\d)? MiB$/);
  });

  it('says "rising X MiB/h, not confirmed" when the slope rule alone fires', () => {
    const st = rssStats(soak(0.45));
    expect(st).toMatchObject({ slopeRule: true, quarterRule: false, verdict: 'no growth' });
    expect(memoryVerdictText(st, 600)).toMatch(/^rising \+20\.\d MiB\/h \(1\d(\.\d)? % of the mean per hour; not confirmed by the quarter-over-quarter rule in a 10-minute soak\)$/);
  });

  it('says "no growth" when neither rule fires, and "growing" when both do', () => {
    expect(memoryVerdictText(rssStats(soak(0)), 600)).toBe('no growth');
    const growing = rssStats(soak(3));
    expect(growing.verdict).toBe('growing');
    expect(memoryVerdictText(growing, 600)).toMatch(/^\*\*growing\*\* \+174 MiB\/h/);
  });
});

describe('CPU settling before a read-path round', () => {
  it("reads /proc/stat's busy and total ticks, leaving idle, iowait and steal out of busy", () => {
    const a = parseCpuTicks('cpu  100 0 50 800 10 5 5 30 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\n');
    const b = parseCpuTicks('cpu  160 0 70 1500 10 5 5 50 0 0\n');
    expect(a).toEqual({ busy: 160, total: 1000 });
    expect(b).toEqual({ busy: 240, total: 1800 });
    expect(busyShare(a!, b!)).toBeCloseTo(80 / 800, 6);
    expect(parseCpuTicks('intr 1 2 3')).toBeUndefined();
  });
});
