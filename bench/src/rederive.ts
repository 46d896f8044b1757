import type { BenchResults } from './results';
import { rssStats } from './scenarios/memory';
import { readPathRatios, targetMedians } from './scenarios/read-path-derive';
import { READ_TARGETS } from './scenarios/read-path';
import { withBulkDrainMedians } from './scenarios/bulk-drain-result';
import { aggregateByVariant } from './scenarios/incident-replay/aggregate';
import { eventFormatRatios } from './scenarios/event-format';

/**
 * What render.ts derives again from a stored results.json's per-round data, so a refined
 * criterion or a corrected derivation applies to old runs too: memory verdicts from the RSS
 * series; the read path's medians and (unrounded) median of per-round ratios from its runs; the
 * bulk drain's medians (its read p99 ratio as the median of per-round ratios) from its rounds;
 * the incident replay's per-variant aggregate (maxima as the maximum over rounds) from its runs;
 * the event formats' lean ÷ nested ratios (median of per-round ratios) from their rounds.
 */
export function rederive(stored: BenchResults): BenchResults {
  const results: BenchResults = { ...stored, retries: stored.retries ?? [] };
  if (results.memory) {
    const m = results.memory;
    results.memory = { ...m, settings: rssStats(m.series.map((p) => [p.s, p.settingsMiB])), invalidator: rssStats(m.series.map((p) => [p.s, p.invalidatorMiB])) };
  }
  if (results.readPath) {
    const rp = results.readPath;
    results.readPath = {
      ...rp,
      byTarget: Object.fromEntries(READ_TARGETS.map((t) => [t, targetMedians(rp.runs, t)])) as typeof rp.byTarget,
      ratios: readPathRatios(rp.runs),
    };
  }
  if (results.bulkDrain) results.bulkDrain = withBulkDrainMedians(results.bulkDrain);
  if (results.eventFormat) results.eventFormat = { ...results.eventFormat, ratios: eventFormatRatios(results.eventFormat.publish, results.eventFormat.drains) };
  if (results.incidentReplay) {
    const inc = results.incidentReplay;
    results.incidentReplay = { ...inc, byVariant: aggregateByVariant(inc.variants) };
  }
  return results;
}
