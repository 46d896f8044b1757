import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { benchDir } from './context';
import { renderReport } from './report/report';
import { RESULT_KEYS, type BenchResults } from './results';

/** Where `npm run bench` writes: bench/results (committed); quick runs go to the git-ignored raw/quick. */
export const defaultResultsDir = (quick: boolean): string => (quick ? join(benchDir, 'results', 'raw', 'quick') : join(benchDir, 'results'));

/** results.json (everything) + one JSON per scenario + REPORT.md with its SVG charts. */
export function writeResults(results: BenchResults, outDir: string): void {
  mkdirSync(join(outDir, 'charts'), { recursive: true });
  writeFileSync(join(outDir, 'results.json'), `${JSON.stringify(results, jsonSafe, 2)}\n`);
  for (const [name, key] of Object.entries(RESULT_KEYS)) {
    const v = results[key];
    if (v !== undefined) writeFileSync(join(outDir, `${name}.json`), `${JSON.stringify(v, jsonSafe, 2)}\n`);
  }
  writeReport(results, outDir);
}

/** REPORT.md and its SVG charts only (render.ts --report-only: the stored JSON is left as it is). */
export function writeReport(results: BenchResults, outDir: string): void {
  mkdirSync(join(outDir, 'charts'), { recursive: true });
  const { markdown, charts } = renderReport(results, 'charts');
  for (const [file, svg] of Object.entries(charts)) writeFileSync(join(outDir, 'charts', file), svg);
  writeFileSync(join(outDir, 'REPORT.md'), markdown);
}

function jsonSafe(_k: string, v: unknown): unknown {
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number' && !Number.isFinite(v)) return null;
  return v;
}
