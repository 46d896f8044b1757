import { deleteGroups, positionGroupAtEnd } from '@settings/local-stack';
import { settingsEnvSchema } from '@settings/settings-service';
import { sleep, type BenchContext } from '../context';
import { accountId, createAccounts, deleteAccounts } from '../db';
import { accountName } from '../grpc-util';
import { scrape, startInvalidatorProcess, startSettingsProcess, type InvalidatorProc, type SettingsProc } from '../procs';
import { benchRedis, deleteAccountKeys } from '../redis-util';
import { measureIdleMemory } from './watch/idle-memory';
import { measurePushLatency } from './watch/push-latency';
import { openStorm } from './watch/reconnect-storm';
import type { WatchResult, WatchStormResult } from './watch/result';
import type { WatchFleet } from './watch/watch-fleet';

export type { WatchResult } from './watch/result';

/**
 * In insecure-dev mode every stream belongs to the one caller `dev`, so the per-caller limit
 * (default 100) would refuse all but the first hundred of the harness's streams, and the
 * per-replica default (10,000) leaves no room for streams the server has not yet reaped after the
 * harness cancelled them. Both are raised above the largest fleet; the limits themselves are
 * tested in the service's integration tests, not measured here.
 */
const STREAM_LIMIT = 20_000;

/**
 * Watch (issue 13): commit → watcher latency at a steady write rate with many open watchers, the
 * RSS of one replica holding many idle watchers, and a reconnect storm's PostgreSQL reads per
 * distinct key. The whole pipeline runs: a settings process and an invalidator process (its own
 * consumer group, positioned at the end of the change topics), so a change reaches a watcher only
 * through Debezium → invalidator marker → Redis push → the replica's re-read.
 */
export async function runWatch(ctx: BenchContext): Promise<WatchResult> {
  const s = ctx.sizes.watch;
  const prefixes = { latency: `${ctx.prefix}-wl`, memory: `${ctx.prefix}-wm`, storm: `${ctx.prefix}-ws` };
  const group = `${ctx.prefix}-watch-invalidator`;
  const env = { WATCH_MAX_STREAMS: String(STREAM_LIMIT), WATCH_MAX_STREAMS_PER_CALLER: String(STREAM_LIMIT) };
  const procs: SettingsProc[] = [];
  const fleets: WatchFleet[] = [];
  let inv: InvalidatorProc | undefined;
  const redis = benchRedis();
  try {
    ctx.log(`watch: creating ${s.latencyAccounts + s.idleWatchers + s.stormKeys} accounts`);
    await createAccounts(prefixes.latency, s.latencyAccounts);
    await createAccounts(prefixes.memory, s.idleWatchers);
    await createAccounts(prefixes.storm, s.stormKeys);
    // The creates are behind the group's start: the storm's keys stay cold in Redis.
    await positionGroupAtEnd(group, { drainFirst: true });
    inv = await startInvalidatorProcess(ctx, 'watch-invalidator', group);

    const replica = async (name: string): Promise<SettingsProc> => {
      const p = await startSettingsProcess(ctx, name, env);
      procs.push(p);
      await waitTracking(p);
      return p;
    };
    const first = await replica('watch-settings-1');
    const memory = [await measureIdleMemory(ctx, first, prefixes.memory, s.idleWatchers)];
    const latency = await measurePushLatency(ctx, first, prefixes.latency);
    await first.stop();
    const shared = await replica('watch-settings-shared-keys');
    memory.push(await measureIdleMemory(ctx, shared, prefixes.memory, s.idleSharedKeys));
    await shared.stop();

    // Cold storm: new streams on keys nobody read, against a replica with an empty near-cache.
    const storms: WatchStormResult[] = [];
    const stormSpecs = Array.from({ length: s.stormWatchers }, (_, i) => ({ names: [accountName(accountId(prefixes.storm, i % s.stormKeys))] }));
    const second = await replica('watch-settings-2');
    const cold = await openStorm(ctx, second, stormSpecs, 'cold', s.stormKeys);
    fleets.push(cold.fleet);
    storms.push(cold.result);
    // Resume storm: the replica goes away (its streams end UNAVAILABLE) and every stream
    // reconnects at once to a fresh one with its last resume tokens.
    const resumeSpecs = cold.fleet.resumeSpecs();
    await second.stop();
    ctx.log(`watch: replica stopped; streams ended ${JSON.stringify(cold.fleet.endings())}`);
    cold.fleet.close();
    const third = await replica('watch-settings-3');
    const resumed = await openStorm(ctx, third, resumeSpecs, 'resume', s.stormKeys);
    fleets.push(resumed.fleet);
    storms.push(resumed.result);
    resumed.fleet.close();

    return {
      limits: { maxStreams: STREAM_LIMIT, maxStreamsPerCaller: STREAM_LIMIT, streamsPerConnection: s.streamsPerChannel },
      progressIntervalMs: settingsEnvSchema.WATCH_PROGRESS_INTERVAL_MS.default ?? Number.NaN,
      latency,
      memory,
      storms,
    };
  } finally {
    for (const f of fleets) f.close();
    await Promise.all(procs.map((p) => p.stop()));
    await inv?.stop();
    await deleteGroups([group]);
    for (const p of Object.values(prefixes)) {
      await deleteAccounts(p);
      await deleteAccountKeys(redis, p);
    }
    redis.disconnect();
  }
}

/**
 * Waits until the replica's Redis invalidation tracking is on. /readyz does not wait for it (reads
 * work without it), but a replica that cannot hear changes withholds bookmarks, and a stream
 * resumed in that window stays silent until its next progress tick (see the scenario's report
 * notes): the storms measure a replica that is fully up.
 */
export async function waitTracking(settings: SettingsProc, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await scrape(settings.metricsPort)).get('settings_near_cache_tracking') !== 1) {
    if (Date.now() > deadline) throw new Error(`${settings.name}: Redis tracking not on after ${timeoutMs} ms; see ${settings.logFile}`);
    await sleep(50);
  }
}
