#!/usr/bin/env node
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { Kafka, logLevel as kafkaLogLevel, Partitioners } from 'kafkajs';
import { Client } from 'pg';
import pino from 'pino';
import { commonEnv, ConfigError, createCacheRedis, type CacheRedis, InvalidIdError, kafkaClientOptions, keySpacesNamed, loadEnv, renewGenerations } from '@settings/shared';
import { pgRowVersions } from '../audit/row-versions';
import { kafkajsLogCreator } from '../consumer/kafkajs-log';
import { loadAdminInspectConfig, loadAdminKafkaConfig, type AdminKafkaConfig } from './admin-config';
import { describeCdcHeal, loadHealCdcGapConfig, runCdcHeal } from './cdc-heal';
import { formatDeadLetter, readDeadLetters, replayableTopics, type DeadLetterRecord } from './dead-letters';
import { formatInspection, inspectResource, UnknownResourceNameError } from './inspect-resource';

/**
 * settings-admin: the operator's one command, shipped in the invalidator image (which has Kafka,
 * Redis and PostgreSQL access) and configured by the invalidator's variables.
 *
 *   settings-admin dlq list [--limit N] [--from-offset N] [--partition P]
 *   settings-admin dlq replay [--from-offset N] [--limit N] [--dry-run] [--group G]
 *   settings-admin inspect accounts/acme/settings [--json]
 *   settings-admin heal-cdc-gap ["<reason>"]
 *   settings-admin renew-generations [space...]
 *
 * Locally: `npm run admin -- <command>` (local stack endpoints). Runbooks: docs/operations.md.
 * Results go to stdout; diagnostics to stderr. Exit 2: bad usage or configuration; 1: failure.
 */

/** Where replays remember what they re-published; the `settings-ops-` prefix is what the ops KafkaUser may use. */
export const DEFAULT_REPLAY_GROUP = 'settings-ops-dlq-replay';

export interface AdminIo {
  env: NodeJS.ProcessEnv;
  /** One result line (stdout). */
  out(line: string): void;
}

class CommandFailed extends Error {}

const integer = (min: number) => (raw: string): number => {
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < min) throw new InvalidArgumentError(`expected an integer >= ${min}`);
  return n;
};

function adminKafka(config: AdminKafkaConfig): Kafka {
  const stderr = pino({ name: 'settings-admin', level: 'warn' }, pino.destination(2));
  return new Kafka({
    clientId: 'settings-admin',
    brokers: config.KAFKA_BROKERS,
    ...kafkaClientOptions(config),
    logLevel: kafkaLogLevel.WARN,
    logCreator: kafkajsLogCreator(stderr),
  });
}

export function createAdminProgram(io: AdminIo): Command {
  const program = new Command('settings-admin')
    .description('Operator commands for the settings cache: dead letters, one resource, CDC heal, generations')
    .showHelpAfterError()
    .exitOverride();

  const dlq = program.command('dlq').description('the invalidator dead-letter topic (DLQ_TOPIC)');
  dlq
    .command('list')
    .description('print dead letters: DLQ partition@offset, original topic/partition@offset, time, reason, key, size')
    .option('--limit <n>', 'at most this many records', integer(1), 20)
    .option('--from-offset <n>', 'start at this offset of each partition (default: the earliest retained)', integer(0))
    .option('--partition <p>', 'only this DLQ partition', integer(0))
    .action(async (opts: { limit: number; fromOffset?: number; partition?: number }) => {
      const config = loadAdminKafkaConfig(io.env);
      const read = await readDeadLetters(
        adminKafka(config),
        {
          topic: config.DLQ_TOPIC,
          // Nothing is committed under it: a name per run, in the ops user's group prefix.
          groupId: `settings-ops-dlq-list-${process.pid}-${Date.now()}`,
          start: opts.fromOffset === undefined ? { from: 'earliest' } : { from: 'offset', offset: BigInt(opts.fromOffset) },
          limit: opts.limit,
          ...(opts.partition === undefined ? {} : { partition: opts.partition }),
        },
        async (r) => io.out(formatDeadLetter(r)),
      );
      io.out(`${read} dead letter(s) listed from ${config.DLQ_TOPIC}`);
    });
  dlq
    .command('replay')
    .description('re-publish each dead letter (original key and bytes) to its original topic and partition, after the cause is fixed; resumes where the last replay of the group stopped')
    .option('--from-offset <n>', 'start at this offset of each partition instead of where the group stopped', integer(0))
    .option('--limit <n>', 'at most this many records', integer(1), 1000)
    .option('--partition <p>', 'only this DLQ partition', integer(0))
    .option('--dry-run', 'print what would be replayed; publish and commit nothing')
    .option('--group <id>', 'consumer group remembering what was replayed', DEFAULT_REPLAY_GROUP)
    .action(async (opts: { fromOffset?: number; limit: number; partition?: number; dryRun?: boolean; group: string }) => {
      const config = loadAdminKafkaConfig(io.env);
      const kafka = adminKafka(config);
      const allowed = replayableTopics(config.KAFKA_TOPIC_PREFIX);
      const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: false });
      if (!opts.dryRun) await producer.connect();
      let replayed = 0;
      let skipped = 0;
      try {
        await readDeadLetters(
          kafka,
          {
            topic: config.DLQ_TOPIC,
            groupId: opts.group,
            start: opts.fromOffset === undefined ? { from: 'committed' } : { from: 'offset', offset: BigInt(opts.fromOffset) },
            limit: opts.limit,
            ...(opts.partition === undefined ? {} : { partition: opts.partition }),
          },
          async (r: DeadLetterRecord, commit) => {
            if (r.sourceTopic === undefined || !allowed.has(r.sourceTopic)) {
              skipped += 1;
              io.out(`skip   ${formatDeadLetter(r)}\t(source topic is not a change topic the invalidator consumes)`);
            } else if (r.truncated) {
              // Only the first bytes of the event: re-published, they were dead-lettered again
              // (not JSON) beyond this group's commit, and every later replay sent them once more.
              skipped += 1;
              io.out(`skip   ${formatDeadLetter(r)}\t(truncated: the event itself is not in the DLQ; re-read its row with the snapshot heal, docs/operations.md dead letters step 4)`);
            } else {
              if (!opts.dryRun) {
                await producer.send({
                  topic: r.sourceTopic,
                  acks: -1,
                  messages: [{ key: r.key, value: r.value, ...(r.sourcePartition === undefined ? {} : { partition: r.sourcePartition }), headers: { 'dlq.replayed.from': `${config.DLQ_TOPIC}/${r.partition}@${r.offset}` } }],
                });
              }
              // Counted and printed once sent: a failed send throws, and the record delivered
              // again would otherwise be counted and printed twice.
              replayed += 1;
              io.out(`${opts.dryRun ? 'would ' : ''}replay ${formatDeadLetter(r)}`);
            }
            // Committed once re-published (or judged unreplayable): the next run starts after it.
            if (!opts.dryRun) await commit();
          },
        );
      } finally {
        if (!opts.dryRun) await producer.disconnect();
      }
      io.out(`${opts.dryRun ? 'dry run: would replay' : 'replayed'} ${replayed} dead letter(s), skipped ${skipped}${opts.dryRun ? '' : ` (group ${opts.group})`}`);
    });

  program
    .command('inspect')
    .description('one resource in the cache and the database: entry (version, generation) or marker (floor), the key space generation, the row version, and a verdict fresh | stale | marker | missing')
    .argument('<resource-name>', 'e.g. accounts/acme/settings, accounts/acme/doctors/d1/settings, accounts/acme/staffPermissions/s1')
    .option('--json', 'print the inspection as JSON')
    .action(async (name: string, opts: { json?: boolean }) => {
      const config = loadAdminInspectConfig(io.env);
      const log = pino({ name: 'settings-admin', level: 'warn' }, pino.destination(2));
      const redis = adminRedis(config);
      const rows = pgRowVersions(config.DATABASE_URL, log, 5000);
      try {
        await redis.connect();
        const inspection = await inspectResource(name, { redis, rows });
        io.out(opts.json ? JSON.stringify(inspection) : formatInspection(inspection));
      } finally {
        redis.disconnect();
        await rows.close();
      }
    });

  program
    .command('heal-cdc-gap')
    .description('re-read the current rows after a CDC gap (lost slot, reset offsets): see heal-cdc-gap.ts; HEAL_DATABASE_URL names a role allowed to insert the snapshot signal')
    .argument('[reason...]', 'recorded as a gap before the heal')
    .action(async (reason: string[]) => {
      const config = loadHealCdcGapConfig(io.env, reason);
      const db = new Client({ connectionString: config.databaseUrl, connectionTimeoutMillis: 5000, statement_timeout: 10_000, application_name: 'settings-admin-heal-cdc-gap' });
      await db.connect();
      try {
        const report = await runCdcHeal(async (text, params) => (await db.query(text, params)).rows as Array<Record<string, unknown>>, config);
        if (report.slotProblem) throw new CommandFailed(describeCdcHeal(report));
        io.out(describeCdcHeal(report));
      } finally {
        await db.end();
      }
    });

  program
    .command('renew-generations')
    .description('give the named cache key spaces (every one when none is named) a fresh generation: nothing of theirs cached before now is served again (a cold cache, never a stale one); after a restore or a CDC gap, run it only once the connector streams again (task RUNNING, slot active): an entry filled before that may hold a change never published')
    .argument('[spaces...]', `key spaces: ${keySpacesNamed([]).join(', ')}`)
    .action(async (names: string[]) => {
      const chosen = keySpacesNamed(names);
      const config = loadEnv({ REDIS_URL: commonEnv.REDIS_URL, REDIS_CLUSTER_NODES: commonEnv.REDIS_CLUSTER_NODES }, io.env);
      const redis = adminRedis(config);
      try {
        await redis.connect();
        const spaces = await renewGenerations(redis, chosen);
        io.out(`renewed the generation of ${spaces.length} key spaces (${spaces.join(', ')}): every entry cached in them is now a miss`);
      } finally {
        redis.disconnect();
      }
    });

  return program;
}

/** The cache's Redis (or Redis Cluster) as the admin commands use it: lazy, 5 s per command, no pipelining. */
function adminRedis(config: { REDIS_URL: string; REDIS_CLUSTER_NODES: string[] | undefined }): CacheRedis {
  return createCacheRedis(config.REDIS_URL, { commandTimeoutMs: 5000, autoPipelining: false, lazyConnect: true, clusterNodes: config.REDIS_CLUSTER_NODES });
}

/** Exit code of a failed command: 2 for usage and configuration, 1 for anything else. */
export function exitCodeOf(err: unknown): number {
  if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
  return err instanceof ConfigError || err instanceof InvalidIdError || err instanceof UnknownResourceNameError ? 2 : 1;
}

if (require.main === module) {
  createAdminProgram({ env: process.env, out: (line) => process.stdout.write(`${line}\n`) })
    .parseAsync(process.argv)
    .then(
      () => process.exit(0),
      (err: unknown) => {
        if (!(err instanceof CommanderError)) process.stderr.write(`settings-admin: ${err instanceof Error ? err.message : String(err)}\n`);
        process.exit(exitCodeOf(err));
      },
    );
}
