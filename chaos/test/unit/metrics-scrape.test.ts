import { metricSum } from '../../src/metrics-scrape';
import { entryHits } from '../../src/cache-in-use';

const text = `# HELP settings_cache_requests_total Cache lookups
# TYPE settings_cache_requests_total counter
settings_cache_requests_total{space="account-settings",result="hit"} 40
settings_cache_requests_total{space="doctor-settings",result="hit"} 2
settings_cache_requests_total{space="account-settings",result="miss"} 7
settings_cache_requests_total_extra 99
settings_redis_circuit_open 0
`;

it('sums the series of one metric that carry the given labels, and nothing else', () => {
  expect(metricSum(text, 'settings_cache_requests_total', { result: 'hit' })).toBe(42);
  expect(metricSum(text, 'settings_cache_requests_total')).toBe(49);
  expect(metricSum(text, 'settings_redis_circuit_open')).toBe(0);
  expect(metricSum(text, 'no_such_metric')).toBe(0);
});

it('counts as entry hits the cache hits that were not cached absences', () => {
  const scrape = `settings_cache_requests_total{space="account-settings",result="hit"} 300
settings_cache_requests_total{space="doctor-settings",result="hit"} 122
settings_cache_requests_total{space="account-settings",result="miss"} 9
settings_cache_not_found_hits_total{space="account-settings"} 100
settings_cache_not_found_hits_total{space="doctor-settings"} 22
`;
  // 422 hits, of which 122 NOT_FOUNDs answered from cached absences: 300 Gets served a row's entry.
  expect(entryHits(scrape)).toBe(300);
  expect(entryHits('settings_cache_not_found_hits_total{space="account-settings"} 5\nsettings_cache_requests_total{space="account-settings",result="hit"} 5\n')).toBe(0);
});
