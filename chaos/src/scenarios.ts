import type { ScenarioName } from './config';
import { crashPostgres, startConnectAgain, startKafkaAgain, startPostgresAgain, startRedisAgain, stopConnectWorker, stopKafka, stopRedis, type Log } from './faults';
import { intBelow } from './prng';
import { offsetsReset, slotInvalidated, slotRecreated } from './cdc-gap-scenarios';
import { plantedStaleEntry, restoreEpochBump } from './cache-scenarios';
import { normalWorkloadAudit } from './audit-soak-scenario';
import type { Scenario } from './scenario-context';

export type { Scenario, ScenarioContext } from './scenario-context';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** How long the third replica stays in the group, and how long Redis stays down after it left. */
const REBALANCE_MEMBER_MS = 2_000;
const REBALANCE_SETTLE_MS = 4_000;

/** The simplest fault: stop a component, keep it down for the hold time, start it again. */
function restartScenario(
  name: ScenarioName,
  text: { behaviour: string; fault: string; component: string },
  stop: () => Promise<void> | void,
  start: (log: Log) => Promise<void>,
): Scenario {
  return {
    name,
    behaviour: text.behaviour,
    fault: text.fault,
    async inject({ sizes, log }) {
      log(`stopping ${text.component}`);
      await stop();
      await sleep(sizes.faultHoldMs);
      log(`starting ${text.component}`);
      await start(log);
    },
  };
}

/** The two replicas every scenario starts with; the rebalance scenario adds a third. */
export const BASE_REPLICAS = ['a', 'b'] as const;

const invalidatorSigkill: Scenario = {
  name: 'invalidator-sigkill',
  behaviour: 'after an invalidator replica is SIGKILLed mid-stream and restarted every key converges to its row',
  fault: 'SIGKILL one of the two invalidator replicas, keep it dead for the hold time, start it again',
  async inject({ fleet, sizes, rng, log, note }) {
    const victim = BASE_REPLICAS[intBelow(rng, BASE_REPLICAS.length)]!;
    log(`SIGKILL invalidator replica ${victim} (pid ${fleet.pids()[victim] ?? '?'})`);
    await fleet.stopReplica(victim, 'SIGKILL');
    note(`SIGKILLed replica ${victim}`);
    await sleep(sizes.faultHoldMs);
    const t0 = Date.now();
    await fleet.startReplica(victim);
    note(`replica ${victim} rejoined ${((Date.now() - t0) / 1000).toFixed(1)} s after its restart`);
  },
};

const redisRestart = restartScenario(
  'redis-restart',
  {
    behaviour: 'after a Redis restart under load (cold cache, markers gone) every key converges to its row',
    fault: 'stop Redis (SIGTERM, no persistence), keep it down for the hold time, start it again empty',
    component: 'Redis',
  },
  stopRedis,
  startRedisAgain,
);

const redisOutageRebalance: Scenario = {
  name: 'redis-outage-rebalance',
  behaviour: 'after a Redis outage during a consumer-group rebalance every key converges to its row',
  fault: 'stop Redis while changes flow; a third invalidator replica joins the group and leaves again while Redis is down; Redis comes back',
  async inject({ fleet, sizes, log, note }) {
    log('stopping Redis');
    await stopRedis();
    // Changes keep flowing while Redis is down: both replicas pause consumption and retry.
    await sleep(Math.min(3_000, sizes.faultHoldMs));
    note(`paused for Redis before the rebalance: ${(await fleet.pausedReplicas()).join(', ') || 'none'}`);
    log('starting a third invalidator replica (rebalance while Redis is down)');
    const t0 = Date.now();
    await fleet.startReplica('c', { waitReady: false });
    let joined = false;
    while (Date.now() - t0 < sizes.rebalanceJoinTimeoutMs) {
      if (await fleet.replicaReady('c')) {
        joined = true;
        break;
      }
      await sleep(250);
    }
    // Without the join there is no rebalance, and the scenario would pass as a plain Redis restart.
    if (!joined) throw new Error(`replica c had not joined the group after ${sizes.rebalanceJoinTimeoutMs / 1000} s: no rebalance happened during the outage`);
    note(`replica c joined after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    // A member of the group for a moment, as a rolling update's new pod would be.
    await sleep(REBALANCE_MEMBER_MS);
    log('stopping the third replica (SIGTERM: a second rebalance)');
    await fleet.stopReplica('c', 'SIGTERM');
    // Redis stays down until the second rebalance has settled: the replicas rejoin while still
    // paused for Redis, which is the state that must not outlive the outage.
    await sleep(REBALANCE_SETTLE_MS);
    const paused = await fleet.pausedReplicas();
    note(`paused for Redis after both rebalances: ${paused.join(', ') || 'none'}`);
    // The state under test: a replica that went through the rebalances paused for Redis. None
    // paused, and this is a plain Redis restart that passes whatever the resume does.
    if (paused.length === 0) throw new Error('no invalidator replica was paused for Redis after the rebalances: the outage did not reach the consumers');
    log('starting Redis');
    await startRedisAgain(log);
  },
};

const postgresRestart = restartScenario(
  'postgres-restart',
  {
    behaviour: 'after a PostgreSQL immediate restart (crash recovery, replication slot reconnects) every key converges to its row',
    fault: 'pg_ctl stop -m immediate, keep PostgreSQL down for the hold time, start it (crash recovery)',
    component: 'PostgreSQL (-m immediate)',
  },
  crashPostgres,
  startPostgresAgain,
);

const kafkaRestart = restartScenario(
  'kafka-restart',
  {
    behaviour: 'after a Kafka broker restart every key converges to its row',
    fault: 'stop the single Kafka broker (SIGTERM), keep it down for the hold time, start it again',
    component: 'the Kafka broker',
  },
  stopKafka,
  startKafkaAgain,
);

const connectRestart = restartScenario(
  'connect-restart',
  {
    behaviour: 'after a Kafka Connect restart every key converges to its row',
    fault: 'stop the Kafka Connect worker (SIGTERM, offsets kept), keep it down for the hold time, start it; the connector resumes from its slot',
    component: 'the Kafka Connect worker',
  },
  stopConnectWorker,
  startConnectAgain,
);

export const SCENARIOS: Record<ScenarioName, Scenario> = {
  'normal-workload-audit': normalWorkloadAudit,
  'invalidator-sigkill': invalidatorSigkill,
  'redis-restart': redisRestart,
  'redis-outage-rebalance': redisOutageRebalance,
  'postgres-restart': postgresRestart,
  'kafka-restart': kafkaRestart,
  'connect-restart': connectRestart,
  'slot-recreated': slotRecreated,
  'offsets-reset': offsetsReset,
  'slot-invalidated': slotInvalidated,
  'planted-stale-entry': plantedStaleEntry,
  'restore-epoch-bump': restoreEpochBump,
};
