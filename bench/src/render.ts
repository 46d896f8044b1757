/**
 * Re-renders REPORT.md and the charts from an existing results.json (no measurement):
 *   node bench/dist/src/render.js [results-dir]     (default bench/results)
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchResults } from './results';
import { defaultResultsDir, writeResults } from './write-results';
import { rssStats } from './scenarios/memory';

const dir = process.argv[2] ?? defaultResultsDir(false);
const results = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8'), (_k, v: unknown) => (v === null ? Number.NaN : v)) as BenchResults;
results.retries ??= [];
// Verdicts are re-derived from the stored series, so a refined criterion applies to old runs too.
if (results.memory) {
  const m = results.memory;
  m.settings = rssStats(m.series.map((p) => [p.s, p.settingsMiB]));
  m.invalidator = rssStats(m.series.map((p) => [p.s, p.invalidatorMiB]));
}
writeResults(results, dir);
process.stdout.write(`rendered ${join(dir, 'REPORT.md')}\n`);
