import { existsSync, readFileSync } from 'node:fs';
import knexFactory from 'knex';
import { localConnectUrl, localDatabaseUrl, localKafkaBrokers, localMigratorDatabaseUrl, localRedisUrl, localStack } from '@settings/shared';
import { migrateLatest } from '@settings/db';
import { adoptSchemaObjectsForOwnerRole, applyDatabaseBootstrap } from './database-roles';
import { connectorStatus, connectProcess, dropReplicationSlot, localConnectorConfig, startConnect, stopConnect } from './kafka-connect';
import { ensureChangeTopics, kafkaMetadataReady, kafkaProcess, startKafka } from './kafka';
import { pgQuery, postgresLog, postgresRunning, startPostgres, stopPostgres } from './postgres';
import { redisProcess, redisReady, startRedis } from './redis';
import { redisClusterPartlyRunning, stopRedisCluster } from './redis-cluster';
import { stateDir } from './state-dir';

export type Progress = (component: string, message: string) => void;

export const consoleProgress: Progress = (component, message) => {
  process.stderr.write(`[stack] ${component.padEnd(9)} ${message}\n`);
};

export const endpoints = {
  DATABASE_URL: localDatabaseUrl,
  REDIS_URL: localRedisUrl,
  KAFKA_BROKERS: localKafkaBrokers,
  KAFKA_CONNECT_URL: localConnectUrl,
};

async function timed(component: string, progress: Progress, step: () => Promise<void>): Promise<void> {
  const t0 = Date.now();
  await step();
  progress(component, `ready (${((Date.now() - t0) / 1000).toFixed(1)}s)`);
}

/**
 * Brings every component up in dependency order and waits for real readiness. Idempotent:
 * components already running are checked, not restarted. Migrations run before the
 * connector is registered because its publication lists the settings tables.
 */
export async function up(progress: Progress = consoleProgress): Promise<void> {
  progress('stack', `state folder ${stateDir}`);
  await timed('postgres', progress, () => startPostgres((m) => progress('postgres', m)));
  await timed('redis', progress, () => startRedis((m) => progress('redis', m)));
  await timed('migrate', progress, async () => {
    // As a DBA would: roles first, migrations as the schema owner, then grants and publication.
    await applyDatabaseBootstrap();
    await adoptSchemaObjectsForOwnerRole();
    const knex = knexFactory({ client: 'pg', connection: localMigratorDatabaseUrl, pool: { min: 0, max: 2 } });
    try {
      await migrateLatest(knex, {
        onLockTimeout: (r) => progress('migrate', `${r.migration ?? 'a migration'} waited for a table lock another transaction holds (try ${r.attempt}/${r.attempts}); rolled back, trying again in ${r.delayMs} ms`),
      });
    } finally {
      await knex.destroy();
    }
    await applyDatabaseBootstrap();
  });
  await timed('kafka', progress, async () => {
    await startKafka((m) => progress('kafka', m));
    const { config } = localConnectorConfig();
    const topics = config['table.include.list']!.split(',').map((t) => `${config['topic.prefix']}.${t.trim()}`);
    const created = await ensureChangeTopics(topics, Number(config['topic.creation.default.partitions']));
    if (created.length > 0) progress('kafka', `created change topics ${created.join(', ')}`);
  });
  await timed('connect', progress, () => startConnect((m) => progress('connect', m)));
  for (const [name, value] of Object.entries(endpoints)) progress('stack', `${name}=${value}`);
}

/** Stops what `up` started, in reverse order, and drops the replication slot it created. */
export async function down(progress: Progress = consoleProgress): Promise<void> {
  progress('connect', 'stopping');
  await stopConnect();
  if (postgresRunning()) {
    const dropped = await dropReplicationSlot().catch(() => false);
    progress('postgres', dropped ? 'replication slot dropped' : 'no replication slot to drop');
  }
  progress('kafka', 'stopping');
  await kafkaProcess.stop(30_000);
  progress('redis', 'stopping');
  await redisProcess.stop();
  // Any node: a cluster a failed test left with a master stopped is still stopped whole.
  if (redisClusterPartlyRunning()) {
    progress('redis-cluster', 'stopping');
    await stopRedisCluster();
  }
  progress('postgres', 'stopping');
  await stopPostgres();
  progress('stack', 'down');
}

export interface ComponentStatus {
  component: string;
  running: boolean;
  detail: string;
  log: string;
}

export async function status(): Promise<ComponentStatus[]> {
  const pgUp = postgresRunning();
  const slot = pgUp
    ? await pgQuery(localStack.database, 'SELECT slot_name, active, pg_size_pretty(pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)) AS retained FROM pg_replication_slots').catch(() => [])
    : [];
  const kafkaUp = kafkaProcess.isRunning() && (await kafkaMetadataReady().catch(() => false));
  const connector = connectProcess.isRunning() ? await connectorStatus().catch(() => undefined) : undefined;
  return [
    { component: 'postgres', running: pgUp, detail: slot.map((s) => `slot ${String(s.slot_name)} active=${String(s.active)} retained=${String(s.retained)}`).join(', ') || `port ${localStack.postgresPort}`, log: postgresLog() },
    { component: 'redis', running: redisProcess.isRunning() && redisReady(), detail: `port ${localStack.redisPort}`, log: redisProcess.log },
    { component: 'kafka', running: kafkaUp, detail: `port ${localStack.kafkaPort}`, log: kafkaProcess.log },
    {
      component: 'connect',
      running: connector?.connector.state === 'RUNNING',
      detail: connector ? `connector ${connector.connector.state}, tasks ${connector.tasks.map((t) => t.state).join(',') || 'none'}` : 'not running',
      log: connectProcess.log,
    },
  ];
}

export function logPaths(): Record<string, string> {
  return { postgres: postgresLog(), redis: redisProcess.log, kafka: kafkaProcess.log, connect: connectProcess.log };
}

export function tail(file: string, lines: number): string {
  if (!existsSync(file)) return `(no log yet at ${file})`;
  return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
}
