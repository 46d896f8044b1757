import { runQuickBench, type ScenarioName } from '../../src';

/**
 * Smoke test of the benchmark harness (BENCH_QUICK mode) against the real stack, in `npm test`:
 * the scenarios run end to end and produce sane numbers. Needs the workspace compiled (the
 * services and the benchmark's servers start from dist/, as `npm test` builds them) and h2load
 * (nghttp2-client, installed by deploy/local/bin/run.sh with the stack's other packages).
 * BENCH_SMOKE_SCENARIOS widens it (default: the two fastest scenarios, about a minute, the
 * event-format comparison, which also drains events written with the optional lean transforms,
 * and the eviction drain by one and by several invalidators, a few seconds).
 */
jest.setTimeout(600_000);

it('quick bench: read path and invalidation lag produce verified, plausible results', async () => {
  const scenarios = (process.env.BENCH_SMOKE_SCENARIOS ?? 'read-path,invalidation-lag,event-format,eviction-throughput').split(',') as ScenarioName[];
  const results = await runQuickBench({ scenarios, log: () => undefined });
  expect(results.errors).toEqual([]);
  if (results.readPath) {
    expect(results.readPath.responsesVerified).toBe(true);
    expect(results.readPath.byTarget.cached.rps).toBeGreaterThan(0);
    expect(results.readPath.byTarget.empty.rps).toBeGreaterThan(0);
    // CPU per request, from the target processes' /proc times (paced and saturated).
    for (const t of ['empty', 'cached'] as const) {
      expect(results.readPath.cpuPerRequest.byTarget[t]?.pacedMicros).toBeGreaterThan(0);
      expect(results.readPath.cpuPerRequest.byTarget[t]?.saturatedMicros).toBeGreaterThan(0);
    }
  }
  if (results.redisCluster) {
    expect(results.redisCluster.reads.responsesVerified).toBe(true);
    expect(results.redisCluster.eviction.byTarget.cluster.keysPerSecond).toBeGreaterThan(0);
    expect(results.redisCluster.eviction.byTarget.single.keysPerSecond).toBeGreaterThan(0);
  }
  if (results.evictionThroughput) {
    // The side-by-side drain by several invalidators applied the whole backlog too.
    for (const r of results.evictionThroughput.rounds) expect(r.replicated?.keysPerSecond).toBeGreaterThan(0);
  }
  if (results.bulkDrain) {
    for (const r of results.bulkDrain.rounds) {
      expect(r.notEvicted).toBe(0);
      expect(r.cpuMicrosPerRow.connect).toBeGreaterThan(0);
      expect(r.cpuMicrosPerRow.invalidator).toBeGreaterThan(0);
    }
  }
  if (results.eventFormat) {
    // Both formats published and drained.
    expect(results.eventFormat.publish.map((p) => p.format).sort()).toEqual(['lean', 'nested']);
    for (const d of results.eventFormat.drains) expect(d.invalidatorCpuMicrosPerEvent).toBeGreaterThan(0);
  }
  if (results.invalidationLag) {
    for (const run of results.invalidationLag.runs) {
      expect(run.notEvicted).toBe(0);
      expect(run.commitToEvictedMs.p99).toBeGreaterThan(0);
    }
  }
});
