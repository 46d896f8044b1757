import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { localStack } from '@settings/shared';
import { ManagedProcess } from './managed-process';
import { ensurePortFree } from './port-check';
import { clusterNodeArgs, redisCli as cli, redisClusterAdmin } from './redis-cluster-node';
import { componentDir } from './state-dir';
import { waitUntil } from './wait-until';

/**
 * A three-master Redis Cluster for the cluster variant of the cache tests and the bench
 * (`stack cluster up|down|status`). On demand, never part of `up`: the single Redis is what the
 * services use by default, and three more servers would only cost memory on every run.
 *
 * Same settings as the single Redis (no persistence, noeviction; see redis.ts), one folder per
 * node for its `nodes.conf`. No replicas: the tests are about slots and multi-key scripts, not
 * failover, and a replica would double the processes on a 2-core machine.
 */
const COMPONENT = 'redis-cluster';
// The cluster bus listens on port + 10000 unless told otherwise: inside the ephemeral port
// range for these ports (see localStack.redisClusterPorts), so 10000 below instead.
const BUS_PORT_OFFSET = -10_000;
const nodes = localStack.redisClusterPorts.map((port) => ({ port, busPort: port + BUS_PORT_OFFSET, process: new ManagedProcess(`${COMPONENT}-${port}`) }));

/** True when every node answers and the cluster covers all 16384 slots (`cluster_state:ok`). */
export function redisClusterReady(): boolean {
  return nodes.every(({ port }) => /cluster_state:ok/.test(cli(port, 'CLUSTER', 'INFO')));
}

export function redisClusterRunning(): boolean {
  return nodes.every((n) => n.process.isRunning());
}

/** Whether any node runs (a cluster left part-way: a test that stopped a master and failed). */
export function redisClusterPartlyRunning(): boolean {
  return nodes.some((n) => n.process.isRunning());
}

export async function startRedisCluster(progress: (msg: string) => void): Promise<void> {
  if (redisClusterPartlyRunning() && !redisClusterRunning()) {
    // Some nodes up, some down: the stopped ones would come back empty and without nodes.conf,
    // and `--cluster create` refuses the others (not empty). Nothing is persisted: start over.
    progress('some nodes are down: restarting the whole cluster');
    await stopRedisCluster();
  }
  for (const node of nodes) {
    if (node.process.isRunning()) continue;
    // A node without its data comes back empty; its old nodes.conf would make it claim slots
    // of a cluster whose other members forgot it. Start every node from scratch.
    rmSync(join(componentDir(`${COMPONENT}-${node.port}`), 'nodes.conf'), { force: true });
    progress(`starting node ${node.port}`);
    await launch(node);
  }
  for (const node of nodes) await waitAnswers(node);
  if (!redisClusterReady()) {
    // Only a brand-new set of nodes gets here (a running, formed cluster is ready): assign the
    // slots evenly over the three masters.
    progress('creating the cluster (3 masters, no replicas)');
    const hosts = nodes.map(({ port }) => `127.0.0.1:${port}`);
    await redisClusterAdmin('create', ...hosts, '--cluster-replicas', '0');
  }
  await waitUntil(COMPONENT, 'cluster_state:ok on every node', async () => redisClusterReady(), { timeoutMs: 30_000, log: nodes[0]!.process.log });
}

/**
 * Stops one master (tests: a master outage). Without replicas its slots are uncovered, so the
 * whole cluster refuses commands (`cluster_state:fail`, the default full coverage) until it is back.
 */
export async function stopRedisClusterNode(port: number): Promise<void> {
  await nodeAt(port).process.stop();
}

/**
 * Starts a stopped master again with its `nodes.conf`: it rejoins with its slots, empty (no
 * persistence), under a new run id — a master restart that lost its data.
 */
export async function restartRedisClusterNode(port: number): Promise<void> {
  const node = nodeAt(port);
  if (!node.process.isRunning()) await launch(node);
  await waitAnswers(node);
  await waitUntil(COMPONENT, 'cluster_state:ok on every node', async () => redisClusterReady(), { timeoutMs: 30_000, log: node.process.log });
}

type ClusterNode = (typeof nodes)[number];

function nodeAt(port: number): ClusterNode {
  const node = nodes.find((n) => n.port === port);
  if (!node) throw new Error(`no local cluster node on port ${port}`);
  return node;
}

async function launch({ port, busPort, process: p }: ClusterNode): Promise<void> {
  await ensurePortFree(COMPONENT, port);
  await ensurePortFree(COMPONENT, busPort);
  p.start('redis-server', clusterNodeArgs({ port, busPort, dir: componentDir(`${COMPONENT}-${port}`), nodeTimeoutMs: 5000, maxmemory: '256mb' }));
}

async function waitAnswers({ port, process: p }: ClusterNode): Promise<void> {
  await waitUntil(`${COMPONENT}-${port}`, 'PING', async () => cli(port, 'PING') === 'PONG', { timeoutMs: 15_000, log: p.log, alive: () => p.isRunning() });
}

export async function stopRedisCluster(): Promise<void> {
  await Promise.all(nodes.map(({ process: p }) => p.stop()));
}

export function redisClusterLogs(): Record<string, string> {
  return Object.fromEntries(nodes.map(({ port, process: p }) => [`${COMPONENT}-${port}`, p.log]));
}
