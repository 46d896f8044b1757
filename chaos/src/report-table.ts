import type { ScenarioResult } from './run-scenario';

/** Failures by name, most frequent first: `UNAVAILABLE 12, sql:57P01 3`; `-` when none. */
export function formatErrors(errors: Record<string, number>): string {
  const entries = Object.entries(errors).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  return entries.length === 0 ? '-' : entries.map(([name, n]) => `${name} ${n}`).join(', ');
}

function converge(r: ScenarioResult): string {
  if (r.error !== undefined && r.convergeSeconds === null) return 'n/a';
  return r.convergeSeconds === null ? `timeout (>${r.convergeTimeoutSeconds})` : r.convergeSeconds.toFixed(1);
}

/** The one table a run prints: a markdown table, one row per scenario. */
export function renderTable(results: readonly ScenarioResult[]): string {
  const header = ['scenario', 'result', 'writes', 'reads', 'errors', 'converge s', 'mismatches'];
  const rows = results.map((r) => [
    r.scenario,
    r.passed ? 'PASS' : r.error !== undefined ? 'ERROR' : 'FAIL',
    String(r.writes),
    r.notFound > 0 ? `${r.reads} (${r.notFound} NOT_FOUND)` : String(r.reads),
    formatErrors(r.errors),
    converge(r),
    r.error !== undefined && r.convergeSeconds === null && r.mismatches === 0 ? 'n/a' : String(r.mismatches),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: readonly string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}
