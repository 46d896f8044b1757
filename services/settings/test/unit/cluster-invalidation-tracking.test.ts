import { EventEmitter } from 'node:events';
import type Redis from 'ioredis';
import type { Cluster } from 'ioredis';
import { createLogger } from '@settings/shared';
import { ClusterInvalidationTracking } from '../../src/cache/cluster-invalidation-tracking';
import { NearCache } from '../../src/cache/near-cache';

/**
 * Near-cache tracking on a Redis Cluster, against stand-ins for the cluster client (its master
 * list is what the test says) and the per-master tracking connections (pure logic).
 */
class StandInTracker extends EventEmitter {
  status = 'ready';
  client(...args: string[]) {
    return Promise.resolve(args[0] === 'ID' ? 7 : 'OK');
  }
  subscribe() {
    return Promise.resolve(1);
  }
  ping() {
    return Promise.resolve('PONG');
  }
  disconnect() {
    this.status = 'end';
  }
}

class StandInCluster extends EventEmitter {
  masters = ['10.0.0.1:6379', '10.0.0.2:6379'];
  nodes() {
    return this.masters.map((m) => ({ options: { host: m.split(':')[0], port: Number(m.split(':')[1]) } }));
  }
}

const entry = { space: 'account-settings' as const, version: 5n, generation: 7n, payload: 'x', decoded: 'x' };

it('drops L1 when a master leaves the cluster client\'s view, even if every master left is tracked', async () => {
  const cluster = new StandInCluster();
  const near = new NearCache({ maxEntries: 10, maxBytes: 1 << 20 });
  const states: string[] = [];
  const trackers: StandInTracker[] = [];
  const t = new ClusterInvalidationTracking(
    cluster as unknown as Cluster,
    () => {
      const c = new StandInTracker();
      trackers.push(c);
      setImmediate(() => c.emit('ready'));
      return c as unknown as Redis;
    },
    near,
    createLogger('test', 'silent'),
    (s) => states.push(s),
  );
  expect(await t.waitOn(1000)).toBe(true);
  const ticket = near.beginRead(['v1:{acct:a}:account-settings'])!;
  near.installGeneration(ticket, 'account-settings', 7n);
  near.install(ticket, 'v1:{acct:a}:account-settings', entry);
  near.endRead(ticket);
  expect(near.size.entries).toBe(1);

  // A slot refresh answered by a node whose view lacks the second master.
  cluster.masters = ['10.0.0.1:6379'];
  cluster.emit('refresh');
  expect(near.size.entries).toBe(0);
  expect(states).toContain('off');
  t.close();
});
