import { StartupError } from './wait-until';
import { down, logPaths, status, tail, up } from './stack';
import { healLocalCdcGaps } from './cdc-heal';
import { localConnectorConfig } from './kafka-connect';
import { redisClusterLogs, redisClusterReady, redisClusterRunning, startRedisCluster, stopRedisCluster } from './redis-cluster';

const usage = `usage: stack <up|down|status|logs [component] [lines]>
  up       start PostgreSQL, Redis, Kafka (KRaft) and Kafka Connect + Debezium; idempotent
  down     stop them and drop the replication slot
  status   one line per component
  logs     tail each component's log (or one: postgres, redis, kafka, connect)
  cluster <up|down|status>  the on-demand three-master Redis Cluster (ports 26380-26382) the
           cluster variant of the cache tests and the bench use; never part of up
  cdc-heal [reason]  heal CDC gaps by an incremental snapshot: recorded ones, and with a reason
           one you know of (e.g. offsets reset by hand); a missing or lost replication slot is
           recorded and nothing is healed (exit 1: run again once the connector streams)`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'up':
      await up();
      return 0;
    case 'down':
      await down();
      return 0;
    case 'status': {
      const rows = await status();
      for (const r of rows) process.stdout.write(`${r.component.padEnd(9)} ${r.running ? 'UP  ' : 'DOWN'} ${r.detail}  (log: ${r.log})\n`);
      return rows.every((r) => r.running) ? 0 : 3;
    }
    case 'logs': {
      const paths = logPaths();
      const only = rest[0] && rest[0] in paths ? rest[0] : undefined;
      const lines = Number(rest[only ? 1 : 0] ?? 40);
      for (const [name, file] of Object.entries(paths)) {
        if (only && name !== only) continue;
        process.stdout.write(`==> ${name}: ${file}\n${tail(file, lines)}\n`);
      }
      return 0;
    }
    case 'cluster': {
      const say = (m: string): void => void process.stderr.write(`[stack] redis-cluster: ${m}\n`);
      if (rest[0] === 'up') await startRedisCluster(say);
      else if (rest[0] === 'down') await stopRedisCluster();
      else if (rest[0] !== 'status') {
        process.stderr.write(`${usage}\n`);
        return 2;
      }
      const ok = redisClusterRunning() && redisClusterReady();
      process.stdout.write(`redis-cluster ${ok ? 'UP  ' : 'DOWN'} ${Object.values(redisClusterLogs()).join(' ')}\n`);
      return rest[0] === 'down' ? 0 : ok ? 0 : 3;
    }
    case 'cdc-heal': {
      const slot = localConnectorConfig().config['slot.name'];
      const r = await healLocalCdcGaps((m) => process.stderr.write(`[stack] ${m}\n`), { slot, force: rest.join(' ') || undefined });
      // Like the invalidator's heal-cdc-gap: an unhealed gap must not look like success.
      if (r.slotProblem) return 1;
      process.stdout.write(r.signalId ? `healing ${r.gaps.length} gap(s): signal ${r.signalId}\n` : 'no CDC gap recorded: nothing to heal\n');
      return 0;
    }
    default:
      process.stderr.write(`${usage}\n`);
      return command ? 2 : 0;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof StartupError) {
      process.stderr.write(`\n[stack] FAILED ${err.message}\n`);
      if (err.log) process.stderr.write(`[stack] last lines of ${err.log}:\n${tail(err.log, 25)}\n`);
    } else {
      process.stderr.write(`\n[stack] FAILED ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    }
    process.exit(1);
  },
);
