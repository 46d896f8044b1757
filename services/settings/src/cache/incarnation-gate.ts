import type Redis from 'ioredis';
import type { Cluster } from 'ioredis';
import { checkRedisIncarnation, isRedisCluster, nodeAddress, type CacheRedisClient, type Logger } from '@settings/shared';
import type { SettingsMetrics } from '../metrics';

/**
 * Trusts the cache only on a connection whose Redis server has passed the incarnation check
 * (packages/shared/src/cache/redis-incarnation.ts). Every (re)connect — a restart, a failover
 * to a replica, a network blip — closes the gate until the check ran on the new connection,
 * so entries a rolled-back Redis brought back are never served: the check renews the
 * generations first, which turns them into misses.
 *
 * On a Redis Cluster the same holds per master: any master's connection closing, or a master
 * joining or leaving the client's view (a failover), closes the gate until the check — which
 * then compares every master's run id — ran again.
 */
export class IncarnationGate {
  private trusted = false;
  /** Bumped on every close, so a check started on an older connection cannot open the gate. */
  private connection = 0;
  private readonly waiters: Array<() => void> = [];
  private running: Promise<void> | undefined;
  private again = false;
  /** On a cluster: the masters the client knew at the last slot refresh (host:port, sorted). */
  private masters = '';
  /** On a cluster: the masters (host:port) whose run ids the last passed check compared. */
  private verifiedMasters: ReadonlySet<string> = new Set();

  constructor(
    private readonly redis: CacheRedisClient,
    private readonly log: Logger,
    private readonly metrics: SettingsMetrics,
    /**
     * Longest one check may take before it counts as failed (and is tried again). One check runs
     * at a time, so a check that never ended would hold every later one behind it and keep the
     * cache untrusted (every read from PostgreSQL) with nothing logged. Defence in depth: added
     * for a failover test that went silent in CI, which the close race in distrust() explains;
     * in ioredis 5.11 a command re-sent by the cluster client keeps its first command timer.
     */
    private readonly checkTimeoutMs = 5000,
  ) {
    redis.on('ready', () => void this.verify());
    redis.on('close', () => this.distrust());
    if (isRedisCluster(redis)) {
      redis.on('+node', (node: Redis) => {
        node.on('close', () => this.distrust());
        node.on('ready', () => void this.verify());
        this.distrust();
      });
      redis.on('-node', () => this.distrust());
      // A replica promoted to master emits no '+node' (ioredis only changes the role of a node
      // it knows), and the old master's '-node' comes only once its connection ends, ~2 s later
      // against a host that does not answer: the slot refresh is where the new master shows.
      this.masters = masterSet(redis);
      redis.on('refresh', () => {
        const now = masterSet(redis);
        if (now === this.masters) return;
        this.masters = now;
        this.distrust();
      });
    }
    if (redis.status === 'ready') void this.verify();
  }

  /**
   * Closes the gate and asks for a check: whatever closed it, a check runs after it (at once, or
   * after the running one, or on the next 'ready' when the client is not ready now). Events that
   * only closed the gate left it closed for good when no event asked again: a failover's slot
   * refresh drops the old master ('-node', whose check ran) and its connection's 'close' comes a
   * moment later, dropping that check's result; a 'close' while a failed check waited to be
   * tried again cancelled the retry. Either way every read went to PostgreSQL, nothing logged.
   */
  private distrust(): void {
    this.connection++;
    this.trusted = false;
    void this.verify();
  }

  get isTrusted(): boolean {
    return this.trusted;
  }

  /**
   * Whether the master at `node` (host:port) is one the passed check compared: a replica promoted
   * since then (a MOVED points reads at it before the slot refresh closes the gate) is not.
   * On one Redis: whether the cache is trusted.
   */
  verifiedMaster(node: string): boolean {
    return this.trusted && (!isRedisCluster(this.redis) || this.verifiedMasters.has(node));
  }

  /** Resolves true once trusted, false after `timeoutMs` (start-up waits, never fails). */
  waitTrusted(timeoutMs: number): Promise<boolean> {
    if (this.trusted) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  /** One check at a time; a request while one runs (a cluster announces each master) runs one more after it. */
  private verify(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.check().finally(() => {
      this.running = undefined;
      if (this.again) {
        this.again = false;
        void this.verify();
      }
    });
    return this.running;
  }

  private async check(): Promise<void> {
    // Not connected (yet): the next `ready` checks. A cluster is ready once it knows every master.
    if (this.redis.status !== 'ready') return;
    const connection = this.connection;
    // The masters the check compares (it reads their run ids now); one that shows up meanwhile
    // closes the gate (refresh, +node) and this check's result is dropped.
    const masters = isRedisCluster(this.redis) ? new Set(masterList(this.redis)) : new Set<string>();
    let bound: NodeJS.Timeout | undefined;
    try {
      // A check that ends after its bound is dropped: renewing the generations late is harmless
      // (more misses), and it cannot open the gate.
      const unanswered = new Promise<never>((_, reject) => {
        bound = setTimeout(() => reject(new Error(`no answer within ${this.checkTimeoutMs} ms`)), this.checkTimeoutMs);
      });
      const { runId, renewed } = await Promise.race([checkRedisIncarnation(this.redis), unanswered]);
      // Renewed is done, even by a check whose result is dropped below: counted and logged.
      if (renewed) {
        this.metrics.generationsRenewed.inc();
        this.log.warn({ runId }, 'Redis server changed (restart, failover or restore): renewed every generation; the cache starts cold, never stale');
      }
      if (connection !== this.connection) return;
      this.verifiedMasters = masters;
      this.trusted = true;
      for (const w of this.waiters.splice(0)) w();
    } catch (err) {
      // Stay closed (reads go to PostgreSQL) and try again while this connection lives.
      this.log.warn({ err: (err as Error).message }, 'Redis incarnation check failed; cache not trusted yet');
      setTimeout(() => {
        if (connection === this.connection && this.redis.status === 'ready') void this.verify();
      }, 500).unref();
    } finally {
      clearTimeout(bound);
    }
  }
}

/** The masters a cluster client knows now (host:port, as its slot map names them). */
function masterList(cluster: Cluster): string[] {
  return cluster.nodes('master').map((node) => nodeAddress(node));
}

/** The masters a cluster client knows now, as one comparable string. */
function masterSet(cluster: Cluster): string {
  return masterList(cluster).sort().join(',');
}
