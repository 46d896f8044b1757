import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sleep, type BenchContext } from '../context';
import { createAccounts, deleteAccounts, escapeLike, sql } from '../db';
import { commitGroupOffsets, deleteGroups, drainDebezium, localConnectorConfig, repoRoot, startConnect, topicEnds, type ConnectorFile } from '@settings/local-stack';
import { measureInvalidatorDrain } from '../invalidator-drain';
import { CpuMeter } from '../process-cpu';
import { benchRedis, deleteAccountKeys } from '../redis-util';
import { median, ratio, round as roundTo } from '../stats';

/** Debezium's nested envelope, or the flattened and lean events the connector's transforms write. */
export type EventFormat = 'nested' | 'lean';
export const EVENT_FORMATS: readonly EventFormat[] = ['nested', 'lean'];

/** Pause between a format's publication and its drain. */
const SETTLE_MS = 5_000;

export interface EventFormatPublishRound {
  round: number;
  format: EventFormat;
  /** Commit of one bulk UPDATE → its last change event in Kafka. */
  commitToPublishedSeconds: number;
  /** CPU of the Kafka Connect JVM per change event over that window. */
  connectCpuMicrosPerEvent: number;
}

export interface EventFormatDrainRound {
  round: number;
  format: EventFormat;
  invalidatorKeysPerSecond: number;
  invalidatorCpuMicrosPerEvent: number;
}

export interface EventFormatMedians {
  commitToPublishedSeconds: number;
  connectCpuMicrosPerEvent: number;
  invalidatorKeysPerSecond: number;
  invalidatorCpuMicrosPerEvent: number;
}

export interface EventFormatResult {
  rows: number;
  /** Connect's transforms of the lean format (deploy/debezium/lean-transforms.json). */
  transforms: string;
  publish: EventFormatPublishRound[];
  drains: EventFormatDrainRound[];
  median: Record<EventFormat, EventFormatMedians>;
  /** lean ÷ nested within each round, median over rounds (eventFormatRatios). */
  ratios: { invalidatorCpuPerEvent: number; invalidatorKeysPerSecond: number; connectCpuPerEvent: number; commitToPublished: number };
}

/**
 * The optional lean transforms (deploy/debezium/lean-transforms.json): the cached tables' events
 * flattened and cut to what the invalidator reads. Not in the connector's default config.
 */
const LEAN_TRANSFORMS_FILE = join(repoRoot, 'deploy', 'debezium', 'lean-transforms.json');

function leanVariant(stack: ConnectorFile): ConnectorFile {
  const transforms = JSON.parse(readFileSync(LEAN_TRANSFORMS_FILE, 'utf8')) as Record<string, string>;
  return { name: stack.name, config: { ...stack.config, ...transforms } };
}

/**
 * The change events' format, measured side by side: the same bulk UPDATE of `rows` accounts
 * published with the connector's lean transforms and without them (Debezium's nested envelope),
 * the connector re-registered between UPDATEs and the order alternated; each UPDATE's events
 * are then drained by a fresh invalidator process with its ceiling off. Reported per format:
 * Connect's CPU per event and commit → last event in Kafka, the invalidator's CPU per event and
 * drain rate. The local stack's own config (nested) is registered again at the end, whatever
 * happened.
 */
export async function runEventFormat(ctx: BenchContext): Promise<EventFormatResult> {
  const { rounds, rows } = ctx.sizes.eventFormat;
  const prefix = `${ctx.prefix}-fmt`;
  const stack = localConnectorConfig();
  if (stack.config.transforms) throw new Error(`the local connector config has transforms (${stack.config.transforms}): its events are not the nested envelope this compares against`);
  const configs: Record<EventFormat, ConnectorFile> = { nested: stack, lean: leanVariant(stack) };
  const transforms = configs.lean.config.transforms!;
  const redis = benchRedis();
  const groups: string[] = [];
  const publish: EventFormatPublishRound[] = [];
  const drains: EventFormatDrainRound[] = [];
  const orderOf = (round: number): readonly EventFormat[] => (round % 2 === 0 ? EVENT_FORMATS : [...EVENT_FORMATS].reverse());
  try {
    ctx.log(`event-format: creating ${rows} accounts`);
    await createAccounts(prefix, rows);
    await drainDebezium();
    // Round 0 warms each format up (Connect's JIT sees the transforms' code for the first time);
    // it is not in the medians. Each UPDATE's events are drained right after it is published,
    // while they are the end of the topic: a backlog followed by other events would let the
    // invalidator's partitions run ahead into them and mix the formats.
    for (let round = 0; round <= rounds; round++) {
      for (const format of orderOf(round)) {
        await startConnect((m) => ctx.log(`event-format: ${m}`), configs[format]);
        await drainDebezium();
        const backlog = await topicEnds();
        const cpu = new CpuMeter();
        const t0 = Date.now();
        await sql(`UPDATE account_settings SET display_name = display_name || '.' WHERE account_id LIKE $1`, [`${escapeLike(prefix)}-%`]);
        await drainDebezium();
        const p: EventFormatPublishRound = {
          round,
          format,
          commitToPublishedSeconds: roundTo((Date.now() - t0) / 1000, 2),
          connectCpuMicrosPerEvent: roundTo((cpu.scan()['Kafka Connect'] * 1e6) / rows, 1),
        };
        if (round === 0) {
          ctx.log(`event-format: warm-up ${format}: ${p.commitToPublishedSeconds} s, Connect ${p.connectCpuMicrosPerEvent} µs/event`);
          continue;
        }
        publish.push(p);
        await deleteAccountKeys(redis, prefix);
        // PostgreSQL and Connect are still busy for a moment after a 100k-row UPDATE (WAL
        // writes, Connect's offset flush): the drain should not share the cores with that.
        await sleep(SETTLE_MS);
        const group = `${prefix}-${format}-${round}`;
        groups.push(group);
        await commitGroupOffsets(group, backlog);
        const d = await measureInvalidatorDrain(ctx, `event-format-${format}-${round}`, group, rows, { EVICTION_MAX_KEYS_PER_SECOND: '0' });
        drains.push({ round, format, invalidatorKeysPerSecond: d.keysPerSecond, invalidatorCpuMicrosPerEvent: d.cpuMicrosPerEvent });
        ctx.log(
          `event-format: round ${round} ${format}: published in ${p.commitToPublishedSeconds} s, Connect ${p.connectCpuMicrosPerEvent} µs/event; drained at ${d.keysPerSecond} keys/s, invalidator ${d.cpuMicrosPerEvent} µs/event`,
        );
      }
    }
  } finally {
    await startConnect((m) => ctx.log(`event-format: ${m}`), stack);
    await deleteGroups(groups);
    await deleteAccounts(prefix);
    await deleteAccountKeys(redis, prefix);
    redis.disconnect();
  }
  const medianOf = (format: EventFormat): EventFormatMedians => {
    const p = publish.filter((r) => r.format === format);
    const d = drains.filter((r) => r.format === format);
    return {
      commitToPublishedSeconds: median(p.map((r) => r.commitToPublishedSeconds)),
      connectCpuMicrosPerEvent: median(p.map((r) => r.connectCpuMicrosPerEvent)),
      invalidatorKeysPerSecond: median(d.map((r) => r.invalidatorKeysPerSecond)),
      invalidatorCpuMicrosPerEvent: median(d.map((r) => r.invalidatorCpuMicrosPerEvent)),
    };
  };
  const m = { nested: medianOf('nested'), lean: medianOf('lean') };
  return {
    rows,
    transforms,
    publish,
    drains,
    median: m,
    ratios: eventFormatRatios(publish, drains),
  };
}

/**
 * Lean ÷ nested within each round, then the median over rounds: a ratio of the two formats'
 * medians could divide numbers of different rounds (the machine's speed moves between them).
 */
export function eventFormatRatios(publish: readonly EventFormatPublishRound[], drains: readonly EventFormatDrainRound[]): EventFormatResult['ratios'] {
  const perRound = <R extends { round: number; format: EventFormat }>(rows: readonly R[], pick: (r: R) => number): number => {
    const ratios: number[] = [];
    for (const lean of rows.filter((r) => r.format === 'lean')) {
      const nested = rows.find((r) => r.format === 'nested' && r.round === lean.round);
      if (nested) ratios.push(ratio(pick(lean), pick(nested)));
    }
    return median(ratios);
  };
  return {
    invalidatorCpuPerEvent: perRound(drains, (r) => r.invalidatorCpuMicrosPerEvent),
    invalidatorKeysPerSecond: perRound(drains, (r) => r.invalidatorKeysPerSecond),
    connectCpuPerEvent: perRound(publish, (r) => r.connectCpuMicrosPerEvent),
    commitToPublished: perRound(publish, (r) => r.commitToPublishedSeconds),
  };
}
