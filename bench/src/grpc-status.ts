/**
 * gRPC status codes a settings process answered, from its `settings_grpc_requests_total{method,code}`
 * counter (scraped with procs.ts `scrape`). h2load cannot read gRPC trailers: an error is an HTTP
 * 200 to it, so a saturated h2load run is checked against this counter, read before and after.
 */

const SERIES = 'settings_grpc_requests_total{';

/** Calls of `method` by status code name (OK, NOT_FOUND, UNAVAILABLE, ...) in one scrape. */
export function grpcCallsByCode(metrics: ReadonlyMap<string, number>, method: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [series, value] of metrics) {
    if (!series.startsWith(SERIES) || !series.endsWith('}')) continue;
    const labels = parseLabels(series.slice(SERIES.length, -1));
    if (labels.method !== method || labels.code === undefined) continue;
    out[labels.code] = (out[labels.code] ?? 0) + value;
  }
  return out;
}

/** Calls of `method` by status code between two scrapes of the same process (codes with none left out). */
export function grpcCallsBetween(before: ReadonlyMap<string, number>, after: ReadonlyMap<string, number>, method: string): Record<string, number> {
  const b = grpcCallsByCode(before, method);
  const a = grpcCallsByCode(after, method);
  const out: Record<string, number> = {};
  for (const code of Object.keys(a).sort()) {
    const d = a[code]! - (b[code] ?? 0);
    if (d > 0) out[code] = d;
  }
  return out;
}

/** Calls that did not end OK. */
export const nonOkCalls = (byCode: Readonly<Record<string, number>>): number => Object.entries(byCode).reduce((s, [code, n]) => s + (code === 'OK' ? 0 : n), 0);

/** `a="x",b="y"` → { a: 'x', b: 'y' } (Prometheus text format, escaped quotes and backslashes). */
function parseLabels(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
  for (let m = re.exec(text); m; m = re.exec(text)) out[m[1]!] = m[2]!.replace(/\\(.)/g, (_s, c: string) => (c === 'n' ? '\n' : c));
  return out;
}
