import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { status } from '@grpc/grpc-js';
import { AccountSettings } from '@settings/api';
import { sleep, type BenchContext } from '../../context';
import { escapeLike } from '../../db';
import { getAccount, updateDisplayName } from '../../grpc-util';
import { openLoop, prng } from '../../load';
import type { ReplayData } from './replay-data';
import { isThisSystem, type IncidentVariant } from './result';
import type { Target } from './target';

export const READ_DEADLINE_MS = 2000;
export const SAVE_DEADLINE_MS = 2000;

export interface ReadRec {
  start: number;
  account: number;
  latency: number;
  version: number;
  ok: boolean;
  timeout: boolean;
  /** gRPC status code (0 = OK). */
  code: number;
}

export interface SaveRec {
  start: number;
  latency: number;
  ok: boolean;
  timeout: boolean;
  /** gRPC status code (0 = OK). */
  code: number;
}

/**
 * Saves per second to rows the bulk UPDATE does not touch, for the whole run: enough samples in
 * the last seconds before the burst and in the burst for a p99 of each.
 */
export const FREE_SAVES_PER_SECOND = 20;

/** The bulk UPDATE as the harness saw it (ms since epoch), and the file with its versions. */
export interface BulkRun {
  rows: number;
  statementMs: number;
  startedAtS: number;
  start: number;
  end: number;
  committedAt: number;
  file: string;
}

/** One variant's load, as sent and answered. */
export interface Traffic {
  /** When the load started; the burst window; the load's length. */
  t0: number;
  burstStart: number;
  burstEnd: number;
  totalMs: number;
  reads: ReadRec[];
  /** Saves to the replay's rows (the bulk UPDATE locks them while it runs). */
  saves: SaveRec[];
  /** Saves to rows outside the bulk UPDATE. */
  freeSaves: SaveRec[];
  /** Reads not sent because too many were in flight (the target stalled). */
  shed: number;
  bulk: BulkRun;
  /** The harness's worst event-loop delay per second: a stalled load generator would fake latency. */
  loopDelay: number[];
}

/**
 * Drives the replay's load against one target: Zipf reads for the whole run; saves at the
 * normal rate, the burst rate, then the normal rate again; and the bulk UPDATE of every row 1 s
 * into the burst. Acknowledged saves go into the ledger as they happen.
 */
export async function driveTraffic(ctx: BenchContext, variant: IncidentVariant, round: number, target: Target, data: ReplayData): Promise<Traffic> {
  const s = ctx.sizes.incident;
  const loopDelay = monitorLoopDelay();
  const reads: ReadRec[] = [];
  const saves: SaveRec[] = [];
  const freeSaves: SaveRec[] = [];
  const totalMs = (s.warmSeconds + s.burstSeconds + s.tailSeconds) * 1000;
  const t0 = Date.now();
  const burstStart = t0 + s.warmSeconds * 1000;
  const burstEnd = burstStart + s.burstSeconds * 1000;
  const readRand = prng(1000 + round);
  const saveRand = prng(2000 + round);
  const payload = isThisSystem(variant) ? 'service' : 'legacy';

  let readSeq = 0;
  const readLoad = openLoop(
    s.readsPerSecond,
    totalMs,
    async () => {
      const account = data.zipf.sample(readRand());
      const c = target.clients[readSeq++ % target.clients.length]!;
      const start = Date.now();
      const res = await getAccount(c, data.ids[account]!, READ_DEADLINE_MS);
      const latency = Date.now() - start;
      if (res.ok && res.value && data.payloadBytes[payload] === 0) data.payloadBytes[payload] = AccountSettings.encode(res.value).finish().length;
      reads.push({ start, account, latency, version: res.ok ? Number(res.value!.etag) : -1, ok: res.ok, timeout: res.code === status.DEADLINE_EXCEEDED, code: res.ok ? status.OK : (res.code ?? status.UNKNOWN) });
    },
    // Twice the reads a 2 s deadline can keep in flight: shedding means the target stalled.
    Math.ceil(s.readsPerSecond * (READ_DEADLINE_MS / 1000) * 2),
  );

  let saveSeq = 0;
  const saveOnce = async (): Promise<void> => {
    const account = data.zipf.sample(saveRand());
    const c = target.clients[saveSeq % target.clients.length]!;
    const name = `r${round}-${variant}-save-${saveSeq++}`;
    const start = Date.now();
    const res = await updateDisplayName(c, data.ids[account]!, name, SAVE_DEADLINE_MS);
    const ack = Date.now();
    if (res.ok && res.value) data.ledger.record(account, Number(res.value.etag), ack, 's');
    saves.push({ start, latency: ack - start, ok: res.ok, timeout: res.code === status.DEADLINE_EXCEEDED, code: res.ok ? status.OK : (res.code ?? status.UNKNOWN) });
  };
  const freeRand = prng(3000 + round);
  let freeSeq = 0;
  const freeSaveLoad = openLoop(FREE_SAVES_PER_SECOND, totalMs, async () => {
    const c = target.clients[freeSeq % target.clients.length]!;
    const id = data.freeIds[Math.floor(freeRand() * data.freeIds.length)]!;
    const start = Date.now();
    const res = await updateDisplayName(c, id, `r${round}-${variant}-free-${freeSeq++}`, SAVE_DEADLINE_MS);
    freeSaves.push({ start, latency: Date.now() - start, ok: res.ok, timeout: res.code === status.DEADLINE_EXCEEDED, code: res.ok ? status.OK : (res.code ?? status.UNKNOWN) });
  });
  const saveLoad = (async () => {
    await openLoop(s.normalSavesPerSecond, s.warmSeconds * 1000, saveOnce);
    await openLoop(s.burstSavesPerSecond, s.burstSeconds * 1000, saveOnce);
    await openLoop(s.normalSavesPerSecond, s.tailSeconds * 1000, saveOnce);
  })();

  const bulk: BulkRun = { rows: 0, statementMs: 0, startedAtS: 0, start: 0, end: 0, committedAt: 0, file: '' };
  const bulkRun = (async () => {
    await sleep(burstStart + 1000 - Date.now());
    bulk.start = Date.now();
    const result = await target.bulk(`${escapeLike(data.prefix)}-%`, `r${round}-${variant}-bulk`, join(ctx.rawDir, `bulk-${variant}-r${round}.tsv`));
    bulk.end = Date.now();
    bulk.committedAt = result.committedAt;
    bulk.file = result.file;
    bulk.rows = result.count;
    bulk.statementMs = bulk.end - bulk.start;
    bulk.startedAtS = Math.round(((bulk.start - t0) / 1000) * 10) / 10;
  })();

  const [readOutcome] = await Promise.all([readLoad, saveLoad, bulkRun, freeSaveLoad]);
  return { t0, burstStart, burstEnd, totalMs, reads, saves, freeSaves, shed: readOutcome.shed, bulk, loopDelay: loopDelay.stop() };
}

/** The worst event-loop delay of every second until `stop()`, in ms. */
function monitorLoopDelay(): { stop(): number[] } {
  const perSecond: number[] = [];
  const eld = monitorEventLoopDelay({ resolution: 10 });
  eld.enable();
  const timer = setInterval(() => {
    perSecond.push(eld.max / 1e6);
    eld.reset();
  }, 1000);
  return {
    stop() {
      clearInterval(timer);
      eld.disable();
      return perSecond;
    },
  };
}
