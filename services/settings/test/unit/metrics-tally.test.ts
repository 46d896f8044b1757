import { Histogram, Registry } from 'prom-client';
import { createSettingsMetrics, GRPC_DURATION_BUCKETS } from '../../src/metrics';

// The hot-path counters are counted in tallies and handed to prom-client when collected: what a
// scrape or get() sees must be what per-call inc() would have given — same names, labels, values.
describe('counters counted through a CounterTally', () => {
  const values = async (m: ReturnType<typeof createSettingsMetrics>, name: string) =>
    // Series order in the exposition is first-increment order, which Prometheus ignores.
    (await m.registry.getSingleMetric(name)!.get()).values.map((v) => JSON.stringify({ space: v.labels.space, result: v.labels.result, method: v.labels.method, code: v.labels.code, value: v.value })).sort();

  it('export the same series as direct inc(), at every scrape, without counting twice', async () => {
    const tallied = createSettingsMetrics(new Registry());
    const direct = createSettingsMetrics(new Registry());
    const calls: Array<[string, string]> = [['account-settings', 'hit'], ['account-settings', 'hit'], ['doctor-settings', 'miss'], ['account-settings', 'off']];
    for (const [space, result] of calls) {
      tallied.cacheRequestTally.inc(space, result);
      tallied.nearCacheRequestTally.inc(space, result);
      direct.cacheRequests.inc({ space, result });
      direct.nearCacheRequests.inc({ space, result });
    }
    tallied.grpcRequestTally.inc('GetAccountSettings', 'OK');
    direct.grpcRequests.inc({ method: 'GetAccountSettings', code: 'OK' });
    for (const name of ['settings_cache_requests_total', 'settings_near_cache_requests_total', 'settings_grpc_requests_total']) {
      expect(await values(tallied, name)).toEqual(await values(direct, name));
    }
    // A second collection adds nothing; later increments, tallied or direct, add up.
    expect(await values(tallied, 'settings_cache_requests_total')).toEqual(await values(direct, 'settings_cache_requests_total'));
    tallied.cacheRequestTally.inc('account-settings', 'hit');
    tallied.cacheRequests.inc({ space: 'account-settings', result: 'hit' });
    direct.cacheRequests.inc({ space: 'account-settings', result: 'hit' }, 2);
    expect(await values(tallied, 'settings_cache_requests_total')).toEqual(await values(direct, 'settings_cache_requests_total'));
    expect(await tallied.registry.metrics()).toContain('settings_cache_requests_total{space="account-settings",result="hit"} 4');
  });
});

// The call-latency histogram is a HistogramTally (@settings/shared): a scrape must read exactly
// what prom-client's own Histogram of the same name, label and buckets would have exported.
describe('the call-latency histogram', () => {
  const durations = [0.0001, 0.0005, 0.0007, 0.003, 0.003, 0.2, 4.9, 5, 7.5];

  it('exports the same text and JSON as a prom-client Histogram fed the same observations, and resets to nothing', async () => {
    const tallied = createSettingsMetrics(new Registry());
    const reference = new Registry();
    const histogram = new Histogram({ name: 'settings_grpc_request_duration_seconds', help: 'gRPC call latency by method', labelNames: ['method'], buckets: [...GRPC_DURATION_BUCKETS], registers: [reference] });
    const get = tallied.grpcDuration.child('GetAccountSettings');
    for (const d of durations) {
      get.observe(d);
      histogram.observe({ method: 'GetAccountSettings' }, d);
    }
    tallied.grpcDuration.observe('UpdateAccountSettings', 0.02);
    histogram.observe({ method: 'UpdateAccountSettings' }, 0.02);
    const text = (r: Registry) => r.getSingleMetricAsString('settings_grpc_request_duration_seconds');
    expect(await text(tallied.registry)).toEqual(await text(reference));
    // Labels, values and series names; prom-client also lists an empty exemplar per value.
    const json = async (r: Registry) => {
      const m = (await r.getMetricsAsJSON()).find((x) => x.name === 'settings_grpc_request_duration_seconds')!;
      return { ...m, values: m.values.map((v) => ({ labels: v.labels, value: v.value, metricName: (v as { metricName?: string }).metricName })) };
    };
    expect(await json(tallied.registry)).toEqual(await json(reference));
    tallied.registry.resetMetrics();
    histogram.reset();
    expect(await text(tallied.registry)).toEqual(await text(reference));
  });
});
