import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { localConnectUrl, localDatabaseRoles, localKafkaBrokers, localStack } from '@settings/shared';
import { componentDir, connectPlugins, connectorConfigFile } from './state-dir';
import { ManagedProcess } from './managed-process';
import { ensureJars, javaBin, jvmArgs } from './java';
import { pgQuery } from './postgres';
import { ensurePortFree } from './port-check';
import { waitUntil } from './wait-until';
import { healLocalCdcGaps, recordLocalCdcGap } from './cdc-heal';

const COMPONENT = 'connect';
export const connectProcess = new ManagedProcess(COMPONENT);

export interface ConnectorFile {
  name: string;
  config: Record<string, string>;
}

export function connectorFile(): ConnectorFile {
  return JSON.parse(readFileSync(connectorConfigFile, 'utf8')) as ConnectorFile;
}

/** The repo's connector config plus what only the local stack knows: where its Postgres is. */
export function localConnectorConfig(): ConnectorFile {
  const file = connectorFile();
  return {
    name: file.name,
    config: {
      ...file.config,
      'database.hostname': '127.0.0.1',
      'database.port': String(localStack.postgresPort),
      // The replication role of deploy/postgres/bootstrap.sql: no DDL, the DBA's publication.
      'database.user': localDatabaseRoles.replication,
      'database.password': 'unused-trust-auth',
      'database.dbname': localStack.database,
      'topic.creation.default.replication.factor': '1',
      'topic.creation.default.partitions': '3',
    },
  };
}

/**
 * Worker settings the local stack and the Kubernetes KafkaConnect (deploy/k8s/base/connect/
 * connect.yaml, spec.config) share beyond topic names and security: deploy/debezium/connect-worker.json
 * (a deploy/k8s unit test checks the KafkaConnect against the same file).
 */
function sharedWorkerSettings(): Record<string, string> {
  return JSON.parse(readFileSync(join(dirname(connectorConfigFile), 'connect-worker.json'), 'utf8')) as Record<string, string>;
}

/** Distributed mode (as Strimzi runs it): connector config and offsets live in Kafka topics. */
function workerProperties(): string {
  return [
    `bootstrap.servers=${localKafkaBrokers}`,
    'group.id=settings-local-connect',
    'config.storage.topic=_connect-configs',
    'offset.storage.topic=_connect-offsets',
    'status.storage.topic=_connect-status',
    'config.storage.replication.factor=1',
    'offset.storage.replication.factor=1',
    'status.storage.replication.factor=1',
    'key.converter=org.apache.kafka.connect.json.JsonConverter',
    'value.converter=org.apache.kafka.connect.json.JsonConverter',
    'key.converter.schemas.enable=false',
    'value.converter.schemas.enable=false',
    // Default 60 s: a crash would replay a minute of changes. Replays are harmless (evictions
    // are idempotent and version-fenced) but slow down recovery.
    'offset.flush.interval.ms=1000',
    // e.g. the connector tunes its own producer (producer.override.* in
    // settings-connector.json), which the worker must allow.
    ...Object.entries(sharedWorkerSettings()).map(([k, v]) => `${k}=${v}`),
    `listeners=http://127.0.0.1:${localStack.connectPort}`,
    `plugin.path=${connectPlugins}`,
    'plugin.discovery=hybrid_warn',
    'topic.creation.enable=true',
    '',
  ].join('\n');
}

async function rest<T>(method: string, path: string, body?: unknown): Promise<{ status: number; json: T }> {
  const res = await fetch(`${localConnectUrl}${path}`, {
    method,
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  return { status: res.status, json: (text ? JSON.parse(text) : undefined) as T };
}

interface ConnectorStatus {
  connector: { state: string; trace?: string };
  tasks: Array<{ id: number; state: string; trace?: string }>;
}

export async function connectorStatus(name = connectorFile().name): Promise<ConnectorStatus | undefined> {
  const r = await rest<ConnectorStatus>('GET', `/connectors/${name}/status`);
  return r.status === 200 ? r.json : undefined;
}

/**
 * Starts the worker if it is not running and registers the connector: `registered` is the
 * local stack's config by default; the bench registers a variant of it (scenarios/event-format.ts).
 */
export async function startConnect(progress: (msg: string) => void, registered: ConnectorFile = localConnectorConfig()): Promise<void> {
  ensureJars(COMPONENT);
  const props = join(componentDir(COMPONENT), 'worker.properties');
  writeFileSync(props, workerProperties());
  if (!connectProcess.isRunning()) {
    await ensurePortFree(COMPONENT, localStack.connectPort);
    progress('starting Kafka Connect worker');
    connectProcess.start(javaBin(), jvmArgs(512, 'org.apache.kafka.connect.cli.ConnectDistributed', [props]));
  }
  const alive = (): boolean => connectProcess.isRunning();
  await waitUntil(COMPONENT, 'REST API', async () => (await rest('GET', '/connectors')).status === 200, {
    timeoutMs: 180_000,
    intervalMs: 1000,
    log: connectProcess.log,
    alive,
  });
  const { name, config } = registered;
  progress(`registering connector ${name}`);
  // PUT .../config creates or updates: registering again on every `up` is idempotent.
  await waitUntil(COMPONENT, `connector ${name} accepted`, async () => {
    const r = await rest<{ message?: string }>('PUT', `/connectors/${name}/config`, config);
    if (r.status >= 300) throw new Error(`HTTP ${r.status} ${r.json?.message ?? ''}`);
    return true;
  }, { timeoutMs: 60_000, intervalMs: 2000, log: connectProcess.log, alive });
  // A connector stopped by `down` stays stopped until resumed; resuming a running one is a no-op.
  await rest('PUT', `/connectors/${name}/resume`);
  let offsetsReset = false;
  let restarted = false;
  let lostSlotDropped = false;
  const slot = config['slot.name']!;
  // One loop for "task RUNNING" and "slot active": a task can report RUNNING and fail a moment
  // later (e.g. on a stored offset whose WAL is gone), so failure is checked until the end.
  await waitUntil(COMPONENT, `connector ${name} RUNNING with replication slot ${slot} active`, async () => {
    const slotRow = (await pgQuery(localStack.database, 'SELECT active, wal_status FROM pg_replication_slots WHERE slot_name = $1', [slot]))[0];
    if (slotRow?.wal_status === 'lost' && !lostSlotDropped) {
      // PostgreSQL invalidated the slot (max_slot_wal_keep_size): it can never stream again, and
      // Debezium creates a slot only when there is none. Drop it with the connector stopped
      // and stream from a new one; the changes in between are a gap, healed below.
      progress(`replication slot ${slot} was invalidated (its WAL is gone): dropping it and resetting connector offsets (a CDC gap: healed below)`);
      await stopConnector(name);
      // STOPPED comes before the walsender exits, and PostgreSQL drops only an inactive slot:
      // not dropped yet, the next poll tries again (the connector stays stopped meanwhile).
      if (!(await dropReplicationSlot())) return false;
      await resetConnectorOffsets(name, `replication slot ${slot} invalidated (max_slot_wal_keep_size): dropped, streaming from a new slot`);
      lostSlotDropped = true;
      return false;
    }
    const s = await connectorStatus(name);
    const failed = s?.tasks.find((t) => t.state === 'FAILED');
    if (failed && !offsetsReset && /no longer available/.test(failed.trace ?? '')) {
      // The stored offset points at WAL the (recreated) slot no longer has: the slot was dropped
      // by hand or by an interrupted `down`. Stream from now on instead.
      progress('stored offset is gone from the server: resetting connector offsets (a CDC gap: healed below)');
      await resetConnectorOffsets(name, `stored offset no longer available on the server (replication slot ${slot} recreated)`);
      offsetsReset = true;
      return false;
    }
    if (failed && !restarted) {
      // Registering the same config again and `resume` do not restart a FAILED task (e.g. one
      // that failed while PostgreSQL was down and ran out of retries): restart it once, as
      // Strimzi's autoRestart does in Kubernetes.
      progress(`task FAILED (${failed.trace?.split('\n')[0] ?? 'no trace'}): restarting it`);
      await rest('POST', `/connectors/${name}/restart?includeTasks=true&onlyFailed=true`);
      restarted = true;
      return false;
    }
    if (failed) throw new Error(`task FAILED again after a restart: ${failed.trace?.split('\n')[0] ?? ''}`);
    const running = s?.connector.state === 'RUNNING' && s.tasks.length > 0 && s.tasks.every((t) => t.state === 'RUNNING');
    return running && slotRow?.active === true;
  }, { timeoutMs: 180_000, intervalMs: 1000, log: connectProcess.log, alive });
  // Streaming again: a gap recorded meanwhile (above, by a scenario, by hand) is healed now.
  await healLocalCdcGaps(progress);
}

/**
 * Stops the connector and forgets its source offsets (Kafka Connect 3.6+ REST), so the next
 * start streams from a new slot's position. Changes made before it streams again are never
 * streamed: with `gapReason` the gap is recorded (table cdc_gap) and healed by the next
 * `healLocalCdcGaps` (end of `startConnect`). Without it only for `down`, which stops Redis
 * (no persistence) too.
 */
export async function resetConnectorOffsets(name: string, gapReason?: string): Promise<void> {
  if (gapReason) await recordLocalCdcGap(gapReason);
  await stopConnector(name);
  const r = await rest<{ message?: string }>('DELETE', `/connectors/${name}/offsets`);
  if (r.status >= 300) throw new Error(`resetting offsets of ${name}: HTTP ${r.status} ${r.json?.message ?? ''}`);
  await rest('PUT', `/connectors/${name}/resume`);
}

/** Stops the connector (Connect REST `stop`: tasks shut down, the slot is released) and waits for STOPPED. */
export async function stopConnector(name = connectorFile().name): Promise<void> {
  await rest('PUT', `/connectors/${name}/stop`);
  await waitUntil(COMPONENT, `connector ${name} STOPPED`, async () => (await connectorStatus(name))?.connector.state === 'STOPPED', {
    timeoutMs: 60_000,
    intervalMs: 500,
    log: connectProcess.log,
  });
}

/**
 * Stops the worker. The connector's offsets are reset first because `down` then drops the
 * replication slot: a stored offset would point at WAL the next slot does not have.
 */
export async function stopConnect(): Promise<void> {
  if (connectProcess.isRunning()) {
    const { name } = connectorFile();
    await resetConnectorOffsets(name).catch(() => undefined);
  }
  await connectProcess.stop(30_000);
}

/** `down` must not leave a slot behind: an inactive slot retains WAL forever. */
export async function dropReplicationSlot(): Promise<boolean> {
  const slot = connectorFile().config['slot.name']!;
  const rows = await pgQuery(
    localStack.database,
    'SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active',
    [slot],
  );
  return rows.length > 0;
}

/**
 * Waits for the state `up` ends in — connector and every task RUNNING, replication slot
 * active — after a component under Connect went away (chaos suite: broker, PostgreSQL or the
 * worker restarted). A FAILED connector or task is restarted (at most every 10 s), as Strimzi's
 * `autoRestart` does in Kubernetes; what was restarted is returned so the caller can report it
 * instead of hiding it.
 */
export async function waitConnectorStreaming(progress: (msg: string) => void, timeoutMs = 180_000): Promise<{ restarts: string[] }> {
  const { name, config } = localConnectorConfig();
  const slot = config['slot.name']!;
  const restarts: string[] = [];
  let lastRestart = 0;
  await waitUntil(COMPONENT, `connector ${name} RUNNING with replication slot ${slot} active`, async () => {
    const s = await connectorStatus(name);
    if (!s) return false;
    const failed = [
      ...(s.connector.state === 'FAILED' ? [{ what: 'connector', trace: s.connector.trace }] : []),
      ...s.tasks.filter((t) => t.state === 'FAILED').map((t) => ({ what: `task ${t.id}`, trace: t.trace })),
    ];
    if (failed.length > 0) {
      if (Date.now() - lastRestart >= 10_000) {
        const why = failed.map((f) => `${f.what} FAILED: ${f.trace?.split('\n')[0] ?? 'no trace'}`).join('; ');
        progress(`${why}; restarting (as Strimzi autoRestart would)`);
        restarts.push(why);
        lastRestart = Date.now();
        await rest('POST', `/connectors/${name}/restart?includeTasks=true&onlyFailed=true`);
      }
      return false;
    }
    const running = s.connector.state === 'RUNNING' && s.tasks.length > 0 && s.tasks.every((t) => t.state === 'RUNNING');
    if (!running) return false;
    const rows = await pgQuery(localStack.database, 'SELECT active FROM pg_replication_slots WHERE slot_name = $1', [slot]);
    return rows[0]?.active === true;
  }, { timeoutMs, intervalMs: 1000, log: connectProcess.log, alive: () => connectProcess.isRunning() });
  return { restarts };
}
