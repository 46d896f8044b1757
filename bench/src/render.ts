/**
 * Re-renders REPORT.md and the charts from an existing results.json (no measurement):
 *   node bench/dist/src/render.js [results-dir] [--report-only]     (default bench/results)
 * What is derived from the stored per-round data is derived again first (see rederive), so a
 * corrected derivation applies to old runs too. Without --report-only the JSON files are written
 * back with the re-derived values; with it only REPORT.md and charts/ are written.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchResults } from './results';
import { defaultResultsDir, writeReport, writeResults } from './write-results';
import { rederive } from './rederive';

const args = process.argv.slice(2);
const reportOnly = args.includes('--report-only');
const dir = args.find((a) => !a.startsWith('--')) ?? defaultResultsDir(false);
const stored = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8'), (_k, v: unknown) => (v === null ? Number.NaN : v)) as BenchResults;
const results = rederive(stored);
if (reportOnly) writeReport(results, dir);
else writeResults(results, dir);
process.stdout.write(`rendered ${join(dir, 'REPORT.md')}${reportOnly ? ' (report and charts only)' : ''}\n`);
