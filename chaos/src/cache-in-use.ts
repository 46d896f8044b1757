import type { Fleet } from './fleet';
import type { SettingsKey } from './keys';
import { metricSum } from './metrics-scrape';
import type { SettingsCaller } from './settings-client';

/**
 * Gets the settings service has answered with a row's cached entry so far: its cache hits
 * (`settings_cache_requests_total{result="hit"}`) less the hits of cached absences
 * (`settings_cache_not_found_hits_total`, a NOT_FOUND answered from the cache). A comparison of
 * default Gets says something about the cache only if they were served from it: right after
 * Redis returns, the service's circuit breaker still sends reads to PostgreSQL, and a stale cache
 * would look perfectly fresh. An absence says nothing about whether the rows' entries are fresh:
 * counted with them, the final comparison's check passed on keys without a row alone.
 */
export async function cacheEntryHits(fleet: Fleet): Promise<number> {
  return entryHits(await fleet.settingsMetrics());
}

/** `cacheEntryHits` from one scrape of the settings service's metrics. */
export function entryHits(metricsText: string): number {
  return metricSum(metricsText, 'settings_cache_requests_total', { result: 'hit' }) - metricSum(metricsText, 'settings_cache_not_found_hits_total');
}

/**
 * Waits until a default Get is answered from the cache again (read once to fill, read again,
 * the hit counter moved). Returns the seconds it took, or null if it did not within `timeoutMs`.
 */
export async function waitCacheInUse(fleet: Fleet, caller: SettingsCaller, key: SettingsKey, timeoutMs: number, deadlineMs: number): Promise<number | null> {
  const t0 = Date.now();
  while (Date.now() - t0 < timeoutMs) {
    await caller.get(key, 'default', deadlineMs);
    const before = await cacheEntryHits(fleet);
    await caller.get(key, 'default', deadlineMs);
    if ((await cacheEntryHits(fleet)) > before) return (Date.now() - t0) / 1000;
    await new Promise((r) => setTimeout(r, 250));
  }
  return null;
}
