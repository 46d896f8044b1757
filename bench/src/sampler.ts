import { ratesFromCounter } from './stats';

export type Probe = () => number | undefined | Promise<number | undefined>;

export interface Series {
  /** Sample times, ms since epoch. */
  t: number[];
  values: Record<string, Array<number | undefined>>;
}

/**
 * Samples a set of probes every `intervalMs` (each tick waits for the previous one, so a slow
 * probe stretches the interval rather than piling up). Failed probes record `undefined`.
 */
export class Sampler {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  readonly series: Series;

  constructor(
    private readonly probes: Record<string, Probe>,
    private readonly intervalMs: number,
  ) {
    this.series = { t: [], values: Object.fromEntries(Object.keys(probes).map((k) => [k, []])) };
  }

  start(): this {
    const tick = async (): Promise<void> => {
      const t = Date.now();
      const entries = await Promise.all(
        Object.entries(this.probes).map(async ([k, p]) => {
          try {
            return [k, await p()] as const;
          } catch {
            return [k, undefined] as const;
          }
        }),
      );
      this.series.t.push(t);
      for (const [k, v] of entries) this.series.values[k]!.push(v);
    };
    const loop = (): void => {
      this.running = tick().finally(() => {
        if (this.timer !== undefined) this.timer = setTimeout(loop, this.intervalMs);
      });
    };
    this.timer = setTimeout(loop, 0);
    return this;
  }

  async stop(): Promise<Series> {
    const t = this.timer;
    this.timer = undefined;
    if (t) clearTimeout(t);
    await this.running;
    return this.series;
  }
}

/** Per-second rates of a cumulative probe between `fromMs` and `toMs`. */
export function rateSeries(series: Series, key: string, fromMs = -Infinity, toMs = Infinity): Array<{ t: number; rate: number }> {
  const pts: Array<{ t: number; v: number }> = [];
  series.t.forEach((t, i) => {
    const v = series.values[key]?.[i];
    if (v !== undefined && t >= fromMs && t <= toMs) pts.push({ t, v });
  });
  return ratesFromCounter(pts);
}

export function peakRate(series: Series, key: string, fromMs = -Infinity, toMs = Infinity): number {
  const r = rateSeries(series, key, fromMs, toMs);
  return r.length ? Math.round(Math.max(...r.map((x) => x.rate))) : Number.NaN;
}

/** Mean per-second rate of a cumulative probe between `fromMs` and `toMs`, rounded to `digits` decimals. */
export function meanRate(series: Series, key: string, fromMs = -Infinity, toMs = Infinity, digits = 0): number {
  const pts: Array<{ t: number; v: number }> = [];
  series.t.forEach((t, i) => {
    const v = series.values[key]?.[i];
    if (v !== undefined && t >= fromMs && t <= toMs) pts.push({ t, v });
  });
  if (pts.length < 2) return Number.NaN;
  const a = pts[0]!;
  const b = pts[pts.length - 1]!;
  const scale = 10 ** digits;
  return Math.round(((b.v - a.v) / (b.t - a.t)) * 1000 * scale) / scale;
}
