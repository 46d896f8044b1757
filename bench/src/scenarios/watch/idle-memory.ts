import { performance } from 'node:perf_hooks';
import { sleep, type BenchContext } from '../../context';
import { accountId } from '../../db';
import { accountName } from '../../grpc-util';
import { scrape, type SettingsProc } from '../../procs';
import { round } from '../../stats';
import { redisTrouble, WATCH_GOALS, type WatchMemoryResult } from './result';
import { WatchFleet } from './watch-fleet';

const MiB = 1024;
const HEAP_USED = 'settings_process_nodejs_heap_size_used_bytes';
/** Streams opened per step: a fleet of callers connecting over a few seconds, not one burst (that is the storm). */
const OPEN_STEP = 1000;

/**
 * RSS (VmRSS) of a fresh replica, idle, then holding `idleWatchers` idle streams over
 * `distinctKeys` accounts (stream i watches account i mod distinctKeys; with one key per stream
 * every stream has its own topic and near-cache entry, the most a watcher can cost), once every
 * stream has its first state and `settleSeconds` passed. Nothing is forced (no GC call); the V8
 * heap in use is read beside it, to tell live objects from memory V8 keeps. Then the streams are
 * closed and the replica's own gauge must come back to 0.
 */
export async function measureIdleMemory(ctx: BenchContext, settings: SettingsProc, prefix: string, distinctKeys: number): Promise<WatchMemoryResult> {
  const s = ctx.sizes.watch;
  const rss = (): number => (settings.rssKb() ?? Number.NaN) / MiB;
  const heapMiB = async (): Promise<number> => ((await scrape(settings.metricsPort)).get(HEAP_USED) ?? Number.NaN) / MiB / MiB;
  const before = await scrape(settings.metricsPort);
  // Let start-up work (connections, JIT, the first GCs) finish before the baseline.
  await sleep(s.settleSeconds * 1000);
  const rssBeforeMiB = rss();
  const heapBeforeMiB = await heapMiB();
  let rssMaxMiB = rssBeforeMiB;
  const sample = setInterval(() => (rssMaxMiB = Math.max(rssMaxMiB, rss())), 250);
  const fleet = new WatchFleet(settings.grpcPort, s.streamsPerChannel);
  try {
    const t0 = performance.now();
    for (let from = 0; from < s.idleWatchers; from += OPEN_STEP) {
      const n = Math.min(OPEN_STEP, s.idleWatchers - from);
      fleet.open(Array.from({ length: n }, (_, i) => ({ names: [accountName(accountId(prefix, (from + i) % distinctKeys))] })));
      await fleet.waitReady(60_000);
    }
    const openSeconds = (performance.now() - t0) / 1000;
    const failedStreams = fleet.failures();
    await sleep(s.settleSeconds * 1000);
    const rssAfterMiB = rss();
    const heapAfterMiB = await heapMiB();
    const open = await scrape(settings.metricsPort);
    const streamsOpen = open.get('settings_watch_streams') ?? Number.NaN;
    clearInterval(sample);
    fleet.close();
    let streamsAfterClose = streamsOpen;
    const deadline = Date.now() + 10_000;
    while (streamsAfterClose > 0 && Date.now() < deadline) {
      await sleep(200);
      streamsAfterClose = (await scrape(settings.metricsPort)).get('settings_watch_streams') ?? Number.NaN;
    }
    ctx.log(
      `watch memory: RSS ${round(rssBeforeMiB, 1)} MiB idle → ${round(rssAfterMiB, 1)} MiB with ${fleet.ready} watchers on ${distinctKeys} keys (max ${round(rssMaxMiB, 1)}; heap used ${round(heapBeforeMiB, 1)} → ${round(heapAfterMiB, 1)} MiB); ${streamsAfterClose} streams left after close`,
    );
    return {
      watchers: s.idleWatchers,
      distinctKeys,
      rssBeforeMiB: round(rssBeforeMiB, 1),
      rssAfterMiB: round(rssAfterMiB, 1),
      rssMaxMiB: round(rssMaxMiB, 1),
      heapUsedBeforeMiB: round(heapBeforeMiB, 1),
      heapUsedAfterMiB: round(heapAfterMiB, 1),
      perWatcherKiB: round(((rssAfterMiB - rssBeforeMiB) * MiB) / s.idleWatchers, 2),
      settleSeconds: s.settleSeconds,
      openSeconds: round(openSeconds, 2),
      failedStreams,
      streamsOpen,
      streamsAfterClose,
      redis: redisTrouble(before, open),
      pass: Object.keys(failedStreams).length === 0 && fleet.ready === s.idleWatchers && rssAfterMiB <= WATCH_GOALS.idleRssMiB,
    };
  } finally {
    clearInterval(sample);
    fleet.close();
  }
}
