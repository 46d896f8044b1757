import { join } from 'node:path';
import { localAuditorDatabaseUrl, localDatabaseUrl, localKafkaBrokers } from '@settings/shared';
import { ChildService, freePort, httpGet, httpStatus, INVALIDATOR_NODE_ARGS } from '@settings/local-stack';
import { invalidatorEntry, settingsEntry } from './paths';
import { metricSum } from './metrics-scrape';

export interface FleetOptions {
  /** Folder for the services' logs. */
  logDir: string;
  /** Consumer group every invalidator replica of this fleet joins (positioned by the caller). */
  groupId: string;
  /** Redis the services use (the suite's own logical database). */
  redisUrl: string;
  /**
   * Run the staleness auditor: the service samples every cache hit (AUDIT_SAMPLE_EVERY=1) and the
   * replicas audit them against PostgreSQL (read-only auditor role) with a 1 s SLO. Off: no sampling, no DATABASE_URL.
   */
  auditor: boolean;
  /** Something worth reporting happened (a restart by the supervisor). */
  note(msg: string): void;
  log(msg: string): void;
}

interface Member {
  svc: ChildService;
  /** HTTP port of /healthz, /readyz (the settings service's metrics port). */
  httpPort: number;
  restart: () => ChildService;
  livenessFailures: number;
  /** Liveness counts only after a first healthy answer (a startup probe): a replica starting while Kafka is down does not listen yet. */
  started: boolean;
}

const SUPERVISE_EVERY_MS = 1_000;
/** The invalidators' AUDIT_SLO_MS when the auditor runs. */
export const AUDIT_SLO_MS = 1_000;
/** Consecutive failed /healthz answers before the supervisor kills and restarts (a liveness probe). */
const LIVENESS_FAILURES = 5;

/**
 * The services under test for one scenario: one settings service and invalidator replicas in
 * one consumer group. A supervisor plays Kubernetes' part (restartPolicy Always plus a liveness
 * probe): a process that exits, or whose /healthz keeps failing, is restarted and the restart
 * is reported. Processes the scenario kills on purpose are left alone until it restarts them.
 */
export class Fleet {
  private readonly members = new Map<string, Member>();
  private supervisor: NodeJS.Timeout | undefined;
  private supervising = false;
  grpcPort = 0;
  /**
   * Restarts the supervisor made (a process that exited by itself or failed its liveness probe).
   * A restarted replica's counters start again at 0, so a scenario that measures counter deltas
   * cannot trust them across one.
   */
  supervisorRestarts = 0;

  private constructor(private readonly opts: FleetOptions) {}

  static async start(opts: FleetOptions, replicas: readonly string[]): Promise<Fleet> {
    const fleet = new Fleet(opts);
    try {
      await Promise.all([fleet.startSettings(), ...replicas.map((r) => fleet.startReplica(r))]);
    } catch (err) {
      await fleet.stop();
      throw err;
    }
    fleet.supervisor = setInterval(() => void fleet.supervise(), SUPERVISE_EVERY_MS);
    return fleet;
  }

  private async startSettings(): Promise<void> {
    this.grpcPort = await freePort();
    const metricsPort = await freePort();
    const env = {
      GRPC_HOST: '127.0.0.1',
      GRPC_PORT: String(this.grpcPort),
      METRICS_PORT: String(metricsPort),
      // Local runs have no identity provider; the suite tests caching, not authentication.
      AUTH_MODE: 'insecure-dev',
      DATABASE_URL: localDatabaseUrl,
      REDIS_URL: this.opts.redisUrl,
      LOG_LEVEL: 'warn',
      // Entries are a safety net only; a short TTL keeps the suite's keys from piling up.
      CACHE_ENTRY_TTL_SECONDS: '900',
      SHUTDOWN_GRACE_MS: '2000',
      AUDIT_SAMPLE_EVERY: this.opts.auditor ? '1' : '0',
    };
    const restart = (): ChildService => new ChildService('settings', settingsEntry, env, join(this.opts.logDir, 'settings.log'));
    const member: Member = { svc: restart(), httpPort: metricsPort, restart, livenessFailures: 0, started: false };
    this.members.set('settings', member);
    await member.svc.waitHttpOk(metricsPort, '/readyz', 60_000);
  }

  /** Starts (or restarts, on the same port) an invalidator replica; by default waits until it has joined its group. */
  async startReplica(name: string, opts: { waitReady?: boolean; readyTimeoutMs?: number } = {}): Promise<void> {
    const existing = this.members.get(name);
    if (existing && existing.svc.exit === undefined) throw new Error(`replica ${name} is already running`);
    const httpPort = existing?.httpPort ?? (await freePort());
    const env = {
      KAFKA_BROKERS: localKafkaBrokers,
      KAFKA_GROUP_ID: this.opts.groupId,
      KAFKA_CLIENT_ID: `${this.opts.groupId}-${name}`,
      // As in Kubernetes (the pod's name): a replica restarted after a kill keeps its instance
      // id and takes its old member's place (static membership); a new replica (the rebalance
      // scenario's third) joins with an id of its own.
      KAFKA_GROUP_INSTANCE_ID: `${this.opts.groupId}-${name}`,
      REDIS_URL: this.opts.redisUrl,
      HTTP_PORT: String(httpPort),
      LOG_LEVEL: 'info',
      // A replica killed and not restarted holds its partitions until its session expires: the
      // service's default, 10 s, set here so the suite keeps it if the default moves. The
      // rebalance timeout (30 s by default) is shorter for the same reason: scenarios kill and
      // restart replicas.
      KAFKA_SESSION_TIMEOUT_MS: '10000',
      KAFKA_REBALANCE_TIMEOUT_MS: '10000',
      // The staleness auditor, with an SLO short enough for a scenario's phases (production: 5 s).
      ...(this.opts.auditor ? { DATABASE_URL: localAuditorDatabaseUrl, AUDIT_SLO_MS: String(AUDIT_SLO_MS) } : {}),
    };
    const restart = (): ChildService => new ChildService(name, invalidatorEntry, env, join(this.opts.logDir, `invalidator-${name}.log`), { nodeArgs: INVALIDATOR_NODE_ARGS });
    const member: Member = { svc: restart(), httpPort, restart, livenessFailures: 0, started: false };
    this.members.set(name, member);
    if (opts.waitReady !== false) await member.svc.waitHttpOk(httpPort, '/readyz', opts.readyTimeoutMs ?? 60_000);
  }

  /** The settings service's /metrics text ('' when it does not answer). */
  async settingsMetrics(): Promise<string> {
    const m = this.member('settings');
    return m.svc.exit === undefined ? (await httpGet(m.httpPort, '/metrics', 2_000)).body : '';
  }

  /** Sum of one metric over the running invalidator replicas' /metrics (CDC gap and cache scenarios). */
  async invalidatorMetricSum(name: string, labels: Record<string, string> = {}): Promise<number> {
    let sum = 0;
    for (const replica of this.replicaNames()) {
      const m = this.member(replica);
      if (m.svc.exit === undefined) sum += metricSum((await httpGet(m.httpPort, '/metrics', 2_000)).body, name, labels);
    }
    return sum;
  }

  /** True once the replica answers /readyz with 200 (running and joined to its group). */
  async replicaReady(name: string): Promise<boolean> {
    const m = this.member(name);
    return m.svc.exit === undefined && (await httpStatus(m.httpPort, '/readyz')) === 200;
  }

  /**
   * Replicas whose consumption is paused because Redis failed (`invalidator_consumer_paused 1`
   * on their /metrics): evidence of what state a fault left them in.
   */
  async pausedReplicas(): Promise<string[]> {
    const paused: string[] = [];
    for (const name of this.replicaNames()) {
      const m = this.member(name);
      if (m.svc.exit !== undefined) continue;
      const { body } = await httpGet(m.httpPort, '/metrics', 2_000);
      if (/^invalidator_consumer_paused 1$/m.test(body)) paused.push(name);
    }
    return paused;
  }

  /** Ends a replica on purpose (SIGKILL: no cleanup at all; SIGTERM: its graceful shutdown). */
  async stopReplica(name: string, signal: 'SIGKILL' | 'SIGTERM'): Promise<void> {
    await this.member(name).svc.stop(signal, 30_000);
  }

  replicaNames(): string[] {
    return [...this.members.keys()].filter((n) => n !== 'settings');
  }

  /** Names of members that are not running although nobody stopped them on purpose. */
  down(): string[] {
    return [...this.members].filter(([, m]) => m.svc.exit !== undefined && !m.svc.expectedExit).map(([n]) => n);
  }

  pids(): Record<string, number | undefined> {
    return Object.fromEntries([...this.members].map(([n, m]) => [n, m.svc.exit === undefined ? m.svc.pid : undefined]));
  }

  async stop(): Promise<void> {
    if (this.supervisor) clearInterval(this.supervisor);
    this.supervisor = undefined;
    await Promise.all([...this.members.values()].map((m) => m.svc.stop('SIGTERM', 30_000)));
  }

  private member(name: string): Member {
    const m = this.members.get(name);
    if (!m) throw new Error(`no member ${name} in the fleet`);
    return m;
  }

  private async supervise(): Promise<void> {
    if (this.supervising) return;
    this.supervising = true;
    try {
      for (const [name, m] of this.members) {
        if (m.svc.expectedExit) continue;
        if (m.svc.exit !== undefined) {
          this.opts.note(`${name} exited (${m.svc.exit}) by itself; restarted by the supervisor`);
          this.supervisorRestarts++;
          m.svc = m.restart();
          m.livenessFailures = 0;
          m.started = false;
          continue;
        }
        const healthy = (await httpStatus(m.httpPort, '/healthz', 2_000)) === 200;
        m.started ||= healthy;
        m.livenessFailures = healthy || !m.started ? 0 : m.livenessFailures + 1;
        if (m.livenessFailures >= LIVENESS_FAILURES) {
          this.opts.note(`${name} failed /healthz ${LIVENESS_FAILURES} times in a row; killed and restarted by the supervisor`);
          await m.svc.stop('SIGKILL');
          this.supervisorRestarts++;
          m.svc = m.restart();
          m.livenessFailures = 0;
          m.started = false;
        }
      }
    } catch (err) {
      this.opts.log(`supervisor: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      this.supervising = false;
    }
  }
}
