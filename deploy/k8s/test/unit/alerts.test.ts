import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { K8S_DIR, REPO_ROOT } from '../../lib/connector';

// The alerts use the services' metric names (a rename in services/*/src/metrics.ts must fail
// here, not silently stop alerting), and, where promtool is installed, are valid PromQL that
// fires on the scenarios in test/promtool/alerts.promtool.yaml.

const rule = parse(readFileSync(join(K8S_DIR, 'base', 'monitoring', 'alerts.yaml'), 'utf8')) as {
  spec: { groups: Array<{ name: string; rules: Array<{ alert: string; expr: string }> }> };
};
const exprs = rule.spec.groups.flatMap((g) => g.rules.map((r) => r.expr)).join('\n');

test('alerts cover lag, dead letters, long pauses, the replication slot and cache fallback', () => {
  for (const metric of ['invalidator_end_to_end_lag_seconds_bucket', 'invalidator_dead_letter_total', 'invalidator_consumer_paused', 'pg_replication_slot_slot_is_active', 'pg_replication_slot_slot_confirmed_flush_lsn', 'settings_cache_fallback_total']) {
    expect(exprs).toContain(metric);
  }
});

test('every service metric an alert uses is defined by the service', () => {
  const defined = ['settings', 'invalidator']
    .map((s) => readFileSync(join(REPO_ROOT, 'services', s, 'src', 'metrics.ts'), 'utf8'))
    .join('\n');
  // Metric names, not label values such as slot_name="settings_cache_slot".
  const used = [...new Set(exprs.replace(/"[^"]*"/g, '').match(/\b(?:settings|invalidator)_[a-z_]+/g) ?? [])].map((m) => m.replace(/_(bucket|count|sum)$/, ''));
  expect(used.length).toBeGreaterThan(4);
  expect(used.filter((m) => !defined.includes(`name: '${m}'`))).toEqual([]);
});

test('promtool: rules are valid and fire on the test scenarios', () => {
  if (spawnSync('promtool', ['--version']).status !== 0) {
    console.warn('SKIPPED promtool checks: promtool not installed (Debian package `prometheus`)');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'alerts-'));
  writeFileSync(join(dir, 'rules.yaml'), stringify({ groups: rule.spec.groups }));
  copyFileSync(join(K8S_DIR, 'test', 'promtool', 'alerts.promtool.yaml'), join(dir, 'tests.yaml'));
  execFileSync('promtool', ['check', 'rules', join(dir, 'rules.yaml')], { stdio: 'pipe' });
  execFileSync('promtool', ['test', 'rules', join(dir, 'tests.yaml')], { stdio: 'pipe', cwd: dir });
});
