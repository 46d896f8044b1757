import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { K8S_DIR, REPO_ROOT } from '../../lib/connector';
import { renderOverlay } from '../../lib/render';

// The Grafana dashboard only shows metrics something exports: every metric a panel query names
// is defined by services/*/src/metrics.ts (or is one of their prom-client default metrics), or is
// an exporter metric the alert rules already use (and monitoring.test.ts proves is produced).
// A rename in a service must fail here, not leave an empty panel.

interface Panel {
  type: string;
  title: string;
  targets?: Array<{ expr: string }>;
  panels?: Panel[];
}
const DASHBOARD_FILE = join(K8S_DIR, 'base', 'monitoring', 'dashboards', 'settings-cache.json');
const dashboard = JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8')) as { uid: string; panels: Panel[] };
const panels = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]).filter((p) => p.type !== 'row');
const queries = panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })));

/** PromQL words that are not metric names: keywords and aggregation modifiers. */
const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'bool', 'offset']);

/**
 * Metric names of a PromQL expression: identifiers that are not a function call, a keyword, a
 * label (inside `{...}` or a `by (...)` list), a string or a range; histogram series suffixes
 * are dropped, as the services define the histogram by its base name.
 */
function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""') // strings (label values, regular expressions)
    .replace(/\{[^}]*\}/g, ' ') // label matchers
    .replace(/\[[^\]]*\]/g, ' ') // ranges, incl. Grafana's $__rate_interval
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' '); // label lists
  const names = [...stripped.matchAll(/(?<![\w$.:])([a-zA-Z_:][\w:]*)(?![\w:])(?!\s*\()/g)].map((m) => m[1]!).filter((w) => !KEYWORDS.has(w) && !/^(Inf|NaN)$/i.test(w));
  return [...new Set(names.map((n) => n.replace(/_(bucket|sum|count)$/, '')))];
}

/** Every metric name the two services register (their metrics.ts, `name: '...'`). */
function serviceMetricNames(): Set<string> {
  const names = ['settings', 'invalidator'].flatMap((s) =>
    [...readFileSync(join(REPO_ROOT, 'services', s, 'src', 'metrics.ts'), 'utf8').matchAll(/\bname: '([a-z_:]+)'/g)].map((m) => m[1]!),
  );
  return new Set(names);
}

/** The exporter metrics (Kafka Exporter, postgres_exporter, redis_exporter, Connect) the alert rules use. */
function alertExporterMetricNames(): Set<string> {
  const rule = parse(readFileSync(join(K8S_DIR, 'base', 'monitoring', 'alerts.yaml'), 'utf8')) as { spec: { groups: Array<{ rules: Array<{ expr: string }> }> } };
  return new Set(rule.spec.groups.flatMap((g) => g.rules.flatMap((r) => metricNames(r.expr))).filter((m) => !/^(settings|invalidator)_/.test(m)));
}

test('metricNames reads metric names, not functions, labels, strings or ranges', () => {
  expect(
    metricNames('histogram_quantile(0.99, sum by (method, le) (rate(settings_grpc_request_duration_seconds_bucket{code!="OK", x=~"a\\\\.b"}[$__rate_interval]))) / on (slot_name) group_left clamp_min(up, 1)'),
  ).toEqual(['settings_grpc_request_duration_seconds', 'up']);
  expect(metricNames('sum(increase(invalidator_dead_letter_total[10m])) > 0 and invalidator_consumer_paused == 1')).toEqual(['invalidator_dead_letter_total', 'invalidator_consumer_paused']);
});

test('the dashboard has the panels operators need, each with a query', () => {
  const exprs = queries.map((q) => q.expr).join('\n');
  for (const metric of [
    'settings_grpc_requests_total',
    'settings_grpc_request_duration_seconds_bucket',
    'settings_cache_requests_total',
    'settings_near_cache_requests_total',
    'invalidator_end_to_end_lag_seconds_bucket',
    'kafka_consumergroup_lag',
    'invalidator_consumer_paused',
    'invalidator_dead_letter_total',
    'pg_replication_slot_slot_confirmed_flush_lsn',
    'settings_watch_streams',
    'settings_watch_push_lag_seconds_bucket',
    'invalidator_audit_inconsistent_total',
    'invalidator_eviction_ceiling_keys_per_second',
  ]) {
    expect(exprs).toContain(metric);
  }
  expect(panels.filter((p) => (p.targets ?? []).length === 0).map((p) => p.title)).toEqual([]);
});

test('every metric a panel queries is exported by a service or is an exporter metric the alerts use', () => {
  const service = serviceMetricNames();
  const exporters = alertExporterMetricNames();
  expect(service.size).toBeGreaterThan(40);
  expect([...exporters]).toEqual(expect.arrayContaining(['kafka_consumergroup_lag', 'pg_replication_slot_slot_current_wal_lsn']));
  // prom-client's default metrics carry each service's prefix (collectDefaultMetrics in metrics.ts).
  const isDefault = (m: string): boolean => /^(settings|invalidator)_process_/.test(m);
  const unknown = queries.flatMap((q) => metricNames(q.expr).filter((m) => !service.has(m) && !exporters.has(m) && !isDefault(m)).map((m) => `${q.panel}: ${m}`));
  expect(queries.length).toBeGreaterThan(20);
  expect(unknown).toEqual([]);
});

test('every overlay ships the dashboard as a ConfigMap the Grafana sidecar loads (label grafana_dashboard: "1")', () => {
  const rendered = renderOverlay('overlays/prod').objects.filter((o) => o.kind === 'ConfigMap' && o.metadata.labels?.grafana_dashboard === '1');
  expect(rendered.map((o) => o.metadata.name)).toEqual(['settings-cache-dashboard']);
  const data = rendered[0]!.data as Record<string, string>;
  expect(JSON.parse(data['settings-cache.json']!)).toEqual(dashboard);
});
