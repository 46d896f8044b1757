import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createMissingTopics, localStack } from '@settings/shared';
import { LOCAL_TOPIC_PARTITIONS } from './change-topics';
import { localKafka, withAdmin } from './kafka-client';
import { componentDir } from './state-dir';
import { ManagedProcess } from './managed-process';
import { ensureJars, javaBin, jvmArgs } from './java';
import { ensurePortFree } from './port-check';
import { StartupError, waitUntil } from './wait-until';

const COMPONENT = 'kafka';
export const kafkaProcess = new ManagedProcess(COMPONENT);

/** Single-node KRaft broker+controller. Every internal topic has replication factor 1. */
function serverProperties(dataDir: string): string {
  return [
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.voters=1@127.0.0.1:${localStack.kafkaControllerPort}`,
    `listeners=PLAINTEXT://127.0.0.1:${localStack.kafkaPort},CONTROLLER://127.0.0.1:${localStack.kafkaControllerPort}`,
    `advertised.listeners=PLAINTEXT://127.0.0.1:${localStack.kafkaPort}`,
    'controller.listener.names=CONTROLLER',
    'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
    'inter.broker.listener.name=PLAINTEXT',
    `log.dirs=${dataDir}`,
    // Without RF 1 on a single node, consumer groups never find a coordinator.
    'offsets.topic.replication.factor=1',
    'offsets.topic.num.partitions=3',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'share.coordinator.state.topic.replication.factor=1',
    'share.coordinator.state.topic.min.isr=1',
    'default.replication.factor=1',
    'num.partitions=3',
    // Tests join and leave groups constantly; the default 3 s delay would dominate them.
    'group.initial.rebalance.delay.ms=0',
    'num.network.threads=2',
    'num.io.threads=2',
    'log.retention.hours=24',
    'log.segment.bytes=67108864',
    'auto.create.topics.enable=true',
    '',
  ].join('\n');
}

export async function startKafka(progress: (msg: string) => void): Promise<void> {
  ensureJars(COMPONENT);
  const dir = componentDir(COMPONENT);
  const dataDir = join(dir, 'data');
  const props = join(dir, 'server.properties');
  writeFileSync(props, serverProperties(dataDir));
  if (!existsSync(join(dataDir, 'meta.properties'))) {
    progress('formatting KRaft storage (first run)');
    const idFile = join(dir, 'cluster-id');
    if (!existsSync(idFile)) writeFileSync(idFile, newClusterId());
    const clusterId = readFileSync(idFile, 'utf8').trim();
    // `--cluster-id=<id>`, one argument: an id starting with '-' given as `-t <id>` is read as an
    // option, and the format failed with the tool's usage (an existing .stack may hold one).
    const r = spawnSync(javaBin(), jvmArgs(256, 'kafka.tools.StorageTool', ['format', `--cluster-id=${clusterId}`, '-c', props, '--ignore-formatted']), {
      encoding: 'utf8',
    });
    if (r.status !== 0) throw new StartupError(COMPONENT, `storage format failed: ${(r.stdout + r.stderr).trim().split('\n').slice(-3).join(' ')}`);
  }
  if (!kafkaProcess.isRunning()) {
    await ensurePortFree(COMPONENT, localStack.kafkaPort);
    await ensurePortFree(COMPONENT, localStack.kafkaControllerPort);
    progress('starting broker');
    kafkaProcess.start(javaBin(), jvmArgs(512, 'kafka.Kafka', [props]));
  }
  await waitUntil(COMPONENT, 'broker metadata', kafkaMetadataReady, {
    timeoutMs: 120_000,
    intervalMs: 1000,
    log: kafkaProcess.log,
    alive: () => kafkaProcess.isRunning(),
  });
}

export async function kafkaMetadataReady(): Promise<boolean> {
  const admin = localKafka('local-stack', { retries: 0 }).admin();
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    return cluster.brokers.length > 0 && cluster.controller !== null;
  } finally {
    await admin.disconnect();
  }
}

/**
 * Creates the change topics before anything subscribes to them, as the Strimzi KafkaTopic
 * resources do in Kubernetes. Otherwise a topic appears only with its table's first change, and
 * a consumer that subscribes or reads offsets in that moment gets "not the leader" errors.
 * Also creates topics `up` does not know (a test's dead-letter topic). Returns those it created.
 */
export function ensureChangeTopics(topics: readonly string[], partitions = LOCAL_TOPIC_PARTITIONS): Promise<string[]> {
  return withAdmin('local-stack', (admin) => createMissingTopics(admin, topics, partitions));
}

/**
 * A Kafka cluster id: 16 random bytes in URL-safe base64 without padding, never starting with
 * '-' (as Kafka's own Uuid.randomUuid avoids: command lines would take it for an option; 1 in 64
 * fresh stacks failed to format before).
 */
export function newClusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}
