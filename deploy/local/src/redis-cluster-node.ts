import { execFile, spawnSync } from 'node:child_process';

/**
 * What the stack's Redis Cluster (redis-cluster.ts) and a test's own failover cluster
 * (redis-failover-cluster.ts) both do to their nodes: the `redis-server` arguments of a cluster
 * node, `redis-cli` against one node, and `redis-cli --cluster` administration.
 */
export interface ClusterNodeOptions {
  readonly port: number;
  readonly busPort: number;
  readonly dir: string;
  /** How long a master may be unreachable before the cluster fails it over (or marks it failed). */
  readonly nodeTimeoutMs: number;
  readonly maxmemory: string;
}

/** Same settings as the single Redis (redis.ts: no persistence, noeviction), cluster-enabled. */
export function clusterNodeArgs(o: ClusterNodeOptions): string[] {
  return [
    '--port', String(o.port),
    '--bind', '127.0.0.1',
    '--cluster-enabled', 'yes',
    '--cluster-config-file', 'nodes.conf',
    '--cluster-port', String(o.busPort),
    '--cluster-node-timeout', String(o.nodeTimeoutMs),
    '--save', '',
    '--appendonly', 'no',
    '--dir', o.dir,
    '--maxmemory', o.maxmemory,
    '--maxmemory-policy', 'noeviction',
  ];
}

/** One command to the node on `port`; its output trimmed, '' when it did not answer. */
export function redisCli(port: number, ...args: string[]): string {
  const r = spawnSync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { encoding: 'utf8', timeout: 10_000 });
  return (r.stdout ?? '').trim();
}

/**
 * `redis-cli --cluster <args>` (create, add-node, ...); throws with the tail of its output when
 * it fails. Not synchronous: it connects to the nodes at the addresses they announce, which may
 * be proxies running in this very process (redis-failover-cluster.ts), and a blocked event loop
 * would never forward its bytes.
 */
export function redisClusterAdmin(...args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('redis-cli', ['--cluster', ...args, '--cluster-yes'], { encoding: 'utf8', timeout: 30_000 }, (err, stdout, stderr) => {
      if (!err) return resolve();
      const tail = (stderr || stdout).trim().split('\n').slice(-3).join(' ');
      reject(new Error(`redis-cli --cluster ${args[0]} failed (${err.killed ? 'timed out after 30 s' : err.message.split('\n')[0]}): ${tail}`));
    });
  });
}
