import { rmSync } from 'node:fs';
import { startFaultProxy, type FaultProxy } from './fault-proxy';
import { freePort } from './free-port';
import { ManagedProcess } from './managed-process';
import { clusterNodeArgs, redisCli as cli, redisClusterAdmin } from './redis-cluster-node';
import { componentDir } from './state-dir';
import { uniqueId } from './unique-id';
import { waitUntil } from './wait-until';

const COMPONENT = 'redis-failover-cluster';

/**
 * A Redis Cluster of three masters and one replica (of the first master), started by a test for
 * itself on free ports: the path a failover takes, which the stack's replica-less cluster
 * (redis-cluster.ts) cannot show. A short node timeout (1 s) so that a frozen master is failed
 * over in a few seconds. Same settings as the stack's Redis otherwise (no persistence).
 *
 * With `behindProxies`, clients reach every node through a fault proxy (fault-proxy.ts): each
 * node announces its proxy's port (`cluster-announce-port`), so the slot map and every MOVED
 * redirect name the proxy, while the cluster bus stays direct. A proxy can then make one node's
 * client connections go silent without the cluster noticing anything (no failover).
 */
export interface RedisFailoverCluster {
  /** `host:port,...` of every node as clients reach it (its proxy's with `behindProxies`), for REDIS_CLUSTER_NODES. */
  readonly nodes: string;
  /** The master that has a replica, and its replica. */
  readonly master: number;
  readonly replica: number;
  /** Every slot of `port`'s master (CLUSTER SLOTS), e.g. to pick keys it serves. */
  slotsOf(port: number): Array<[number, number]>;
  /** A new id (`uniqueId(prefix)`) whose key, `keyOf(id)`, is in a slot of the master on `port`. */
  idWithKeyOn(port: number, prefix: string, keyOf: (id: string) => string): string;
  /** SIGSTOP: the process keeps its sockets open and answers nothing (a partition, a hung host). */
  freeze(port: number): void;
  /** SIGCONT. */
  thaw(port: number): void;
  /** Waits until `port` is a master with its slots (the cluster promoted it). */
  waitPromoted(port: number, timeoutMs?: number): Promise<void>;
  /** The proxy in front of the node on `port` (`behindProxies` only). */
  proxyOf(port: number): FaultProxy;
  /** Stops every node (thawed first) and its proxy, and deletes their folders. */
  remove(): Promise<void>;
}

export interface RedisFailoverClusterOptions {
  /** Clients reach every node through a fault proxy of its own (see above). */
  readonly behindProxies?: boolean;
}

export async function startRedisFailoverCluster(opts: RedisFailoverClusterOptions = {}): Promise<RedisFailoverCluster> {
  const id = uniqueId('c');
  const nodes: Array<{ port: number; process: ManagedProcess; dir: string; proxy?: FaultProxy }> = [];
  // Every node and proxy started so far, whatever failed: the redis-servers are detached and
  // would outlive the test.
  const remove = async (): Promise<void> => {
    for (const n of nodes) {
      const pid = n.process.pid();
      if (pid !== undefined && n.process.isRunning()) process.kill(pid, 'SIGCONT');
    }
    await Promise.allSettled(nodes.map((n) => n.process.stop(5000)));
    await Promise.allSettled(nodes.map((n) => n.proxy?.close()));
    for (const n of nodes) rmSync(n.dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < 4; i++) {
      const port = await freePort();
      const busPort = await freePort();
      const name = `${COMPONENT}-${id}-${i}`;
      const node: (typeof nodes)[number] = { port, process: new ManagedProcess(name), dir: componentDir(name) };
      nodes.push(node);
      node.proxy = opts.behindProxies ? await startFaultProxy(port) : undefined;
      const announce = node.proxy ? ['--cluster-announce-ip', '127.0.0.1', '--cluster-announce-port', String(node.proxy.port), '--cluster-announce-bus-port', String(busPort)] : [];
      node.process.start('redis-server', [...clusterNodeArgs({ port, busPort, dir: node.dir, nodeTimeoutMs: 1000, maxmemory: '64mb' }), ...announce]);
    }
  } catch (err) {
    await remove();
    throw err;
  }
  /** How clients (and redis-cli --cluster) reach a node. */
  const address = (n: (typeof nodes)[number]): string => `127.0.0.1:${n.proxy?.port ?? n.port}`;
  try {
    for (const n of nodes) await waitUntil(COMPONENT, `PING on ${n.port}`, async () => cli(n.port, 'PING') === 'PONG', { timeoutMs: 15_000, log: n.process.log });
    const [m, , , r] = nodes as [(typeof nodes)[0], (typeof nodes)[0], (typeof nodes)[0], (typeof nodes)[0]];
    await redisClusterAdmin('create', ...nodes.slice(0, 3).map(address), '--cluster-replicas', '0');
    const masterId = cli(m.port, 'CLUSTER', 'MYID');
    await redisClusterAdmin('add-node', address(r), address(m), '--cluster-slave', '--cluster-master-id', masterId);
    await waitUntil(COMPONENT, 'the replica in sync and the cluster ok', async () => /master_link_status:up/.test(cli(r.port, 'INFO', 'replication')) && nodes.every((n) => /cluster_state:ok/.test(cli(n.port, 'CLUSTER', 'INFO'))), { timeoutMs: 30_000, log: r.process.log });
    const pidOf = (port: number): number => {
      const pid = nodes.find((n) => n.port === port)?.process.pid();
      if (pid === undefined) throw new Error(`no failover-cluster node on ${port}`);
      return pid;
    };
    const slotsOf = (port: number): Array<[number, number]> => {
      const myId = cli(port, 'CLUSTER', 'MYID');
      // `CLUSTER SHARDS` is 7.0+; `CLUSTER NODES` works everywhere: `<id> ... <slot ranges>`.
      const line = cli(port, 'CLUSTER', 'NODES').split('\n').find((l) => l.startsWith(myId)) ?? '';
      return line
        .split(' ')
        .slice(8)
        .filter((r) => /^\d+(-\d+)?$/.test(r))
        .map((r) => {
          const [a, b] = r.split('-').map(Number);
          return [a!, b ?? a!] as [number, number];
        });
    };
    return {
      nodes: nodes.map(address).join(','),
      master: m.port,
      replica: r.port,
      slotsOf,
      proxyOf(port) {
        const proxy = nodes.find((n) => n.port === port)?.proxy;
        if (!proxy) throw new Error(`no proxy in front of ${port} (started without behindProxies?)`);
        return proxy;
      },
      idWithKeyOn(port, prefix, keyOf) {
        const slots = slotsOf(port);
        for (let i = 0; i < 2000; i++) {
          const id = uniqueId(prefix);
          const slot = Number(cli(port, 'CLUSTER', 'KEYSLOT', keyOf(id)));
          if (slots.some(([a, b]) => slot >= a && slot <= b)) return id;
        }
        throw new Error(`no key of ${prefix}… found in the slots of ${port}`);
      },
      freeze: (port) => process.kill(pidOf(port), 'SIGSTOP'),
      thaw: (port) => process.kill(pidOf(port), 'SIGCONT'),
      async waitPromoted(port, timeoutMs = 30_000) {
        await waitUntil(COMPONENT, `${port} promoted`, async () => /^master/.test(cli(port, 'ROLE')) && /cluster_state:ok/.test(cli(port, 'CLUSTER', 'INFO')), { timeoutMs });
      },
      remove,
    };
  } catch (err) {
    await remove();
    throw err;
  }
}
