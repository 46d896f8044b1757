import {
  connectProcess,
  kafkaProcess,
  postgresRunning,
  redisProcess,
  startConnect,
  startKafka,
  startPostgres,
  startRedis,
  stopPostgresImmediate,
  waitConnectorStreaming,
} from '@settings/local-stack';

/**
 * The faults, each a real action on the shared local stack (deploy/local), and the heal that
 * brings every component back the way `npm run stack -- up` does. Stopping is done here;
 * starting reuses the stack's own start functions, which wait for real readiness.
 */
export type Log = (msg: string) => void;

/** Redis stops (SIGTERM; no persistence, so it comes back empty, as after a failover). */
export async function stopRedis(): Promise<void> {
  await redisProcess.stop();
}

export async function startRedisAgain(log: Log): Promise<void> {
  await startRedis((m) => log(`redis: ${m}`));
}

/** The single Kafka broker shuts down (SIGTERM: controlled shutdown) and stays down. */
export async function stopKafka(): Promise<void> {
  await kafkaProcess.stop(30_000);
}

export async function startKafkaAgain(log: Log): Promise<void> {
  await startKafka((m) => log(`kafka: ${m}`));
}

/**
 * The Connect worker shuts down (SIGTERM). Not the stack's `stopConnect`, which also resets the
 * connector's offsets for `down`: here the restarted worker must resume from where it was.
 */
export async function stopConnectWorker(): Promise<void> {
  await connectProcess.stop(30_000);
}

export async function startConnectAgain(log: Log): Promise<void> {
  await startConnect((m) => log(`connect: ${m}`));
}

/** `pg_ctl stop -m immediate`: a crash, not a shutdown; the next start runs crash recovery. */
export function crashPostgres(): void {
  stopPostgresImmediate();
}

export async function startPostgresAgain(log: Log): Promise<void> {
  await startPostgres((m) => log(`postgres: ${m}`));
}

/**
 * Brings back whatever is down, in dependency order, and waits until Debezium streams again
 * (connector and task RUNNING, replication slot active). Returns notes on what it had to do
 * beyond starting processes (a FAILED connector task restarted), for the report.
 *
 * Single-flight: a Ctrl-C heal and a scenario's own heal must not both start a component.
 */
let healing: Promise<string[]> | undefined;
export function healStack(log: Log): Promise<string[]> {
  healing ??= heal(log).finally(() => (healing = undefined));
  return healing;
}

async function heal(log: Log): Promise<string[]> {
  if (!postgresRunning()) await startPostgresAgain(log);
  if (!redisProcess.isRunning()) await startRedisAgain(log);
  if (!kafkaProcess.isRunning()) await startKafkaAgain(log);
  if (!connectProcess.isRunning()) await startConnectAgain(log);
  const { restarts } = await waitConnectorStreaming((m) => log(`connect: ${m}`), 180_000);
  return restarts.map((r) => `connector restarted after heal: ${r}`);
}
