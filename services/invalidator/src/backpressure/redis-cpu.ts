import { dataServers, nodeAddress, type CacheRedisClient } from '@settings/shared';

/**
 * How busy Redis's main thread is, from its own counters (`INFO cpu`: main-thread user+sys CPU
 * seconds), sampled every `intervalMs`: the fraction of wall time Redis spent executing commands.
 *
 * Why the adaptive ceiling needs it besides round-trip latency: evictions can only hurt readers
 * by keeping Redis's single thread busy. On a shared, overloaded machine round trips get slow
 * because the invalidator or the machine is slow, not Redis; backing off then helps no reader
 * and only delays invalidation. The ceiling backs off when round trips are slow AND Redis is
 * busy (adaptive-rate.ts). On a Redis Cluster the busiest master counts.
 */
export class RedisCpuSampler {
  private timer: NodeJS.Timeout | undefined;
  private readonly last = new Map<string, { cpu: number; at: number }>();
  private busyFraction = 0;
  /** Samples in a row that measured no fraction. */
  private unknownSamples = 0;
  private sampling = false;
  private refusedLogged = false;

  constructor(
    private readonly redis: CacheRedisClient,
    private readonly intervalMs: number,
    private readonly onRefused: (err: Error) => void = () => undefined,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /**
   * Main-thread CPU fraction over the last interval (0 until two samples were taken). Infinity
   * (busy: round-trip latency alone decides, as REDIS_BUSY_CPU_PERCENT=0) once
   * UNKNOWN_AFTER_SAMPLES samples in a row measured nothing: an ACL without INFO (`-@dangerous`)
   * refused every sample, the fraction stayed 0, and the ceiling never backed off however slow
   * Redis got; an old fraction kept after the samples started failing would decide just as blindly.
   */
  get fraction(): number {
    return this.unknownSamples >= UNKNOWN_AFTER_SAMPLES ? Number.POSITIVE_INFINITY : this.busyFraction;
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      // One sample at a time: replies of a stalled Redis arriving together were microseconds
      // apart, and their CPU difference over that gap read as 0 or as thousands of percent.
      if (this.sampling) return;
      this.sampling = true;
      void this.sample().finally(() => (this.sampling = false));
    }, this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  async sample(): Promise<void> {
    const servers = dataServers(this.redis);
    const fractions = await Promise.all(servers.map((server) => this.sampleServer(server)));
    const known = fractions.filter((f): f is number => f !== undefined);
    if (known.length > 0) {
      this.busyFraction = Math.max(...known);
      this.unknownSamples = 0;
    } else {
      this.unknownSamples += 1;
    }
  }

  private async sampleServer(server: ReturnType<typeof dataServers>[number]): Promise<number | undefined> {
    let info: string;
    try {
      info = await server.info('cpu');
    } catch (err) {
      // Redis failing: the evictor's own errors handle that. Refused (ACL): said once.
      if (/NOPERM/.test((err as Error).message) && !this.refusedLogged) {
        this.refusedLogged = true;
        this.onRefused(err as Error);
      }
      return undefined;
    }
    const cpu = mainThreadCpuSeconds(info);
    const at = this.now();
    const name = nodeAddress(server);
    const last = this.last.get(name);
    if (cpu !== undefined) this.last.set(name, { cpu, at });
    return cpu !== undefined && last ? Math.max(0, (cpu - last.cpu) / ((at - last.at) / 1000)) : undefined;
  }
}

/** Samples in a row without a measured fraction after which Redis counts as busy (2 s at 250 ms). */
export const UNKNOWN_AFTER_SAMPLES = 8;

/** Main-thread CPU seconds (Redis 7); all threads before that. */
export function mainThreadCpuSeconds(info: string): number | undefined {
  const field = (name: string): number | undefined => {
    const m = new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info);
    return m ? Number(m[1]) : undefined;
  };
  const user = field('used_cpu_user_main_thread') ?? field('used_cpu_user');
  const sys = field('used_cpu_sys_main_thread') ?? field('used_cpu_sys');
  return user === undefined || sys === undefined ? undefined : user + sys;
}
