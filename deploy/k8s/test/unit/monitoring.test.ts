import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { K8S_DIR, REPO_ROOT } from '../../lib/connector';
import { renderAll, TEST_SITE_ENV, type K8sObject, type Rendering } from '../../lib/render';
import { workloads } from '../../lib/workloads';

// Alerts are actionable and fed: every runbook_url is an absolute link to a heading of
// docs/operations.md, every metric an alert uses is produced by something these manifests
// deploy, and every `job` an alert names is scraped under that name.

interface Rule {
  alert: string;
  expr: string;
  annotations: { runbook_url: string };
}
const baseRules = (parse(readFileSync(join(K8S_DIR, 'base', 'monitoring', 'alerts.yaml'), 'utf8')) as { spec: { groups: Array<{ rules: Rule[] }> } }).spec.groups.flatMap((g) => g.rules);
const exprs = baseRules.map((r) => r.expr).join('\n');
const runbookUrl = /^RUNBOOK_URL=(.+)$/m.exec(readFileSync(TEST_SITE_ENV, 'utf8'))![1]!;

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens. */
function anchors(markdown: string): Set<string> {
  return new Set(
    markdown
      .split('\n')
      .filter((l) => /^#{1,6} /.test(l))
      .map((l) => l.replace(/^#+ /, '').trim().toLowerCase().replace(/[^\p{L}\p{N} _-]/gu, '').replace(/ /g, '-')),
  );
}

let renderings: Rendering[];
beforeAll(() => {
  renderings = renderAll().filter((r) => !r.name.endsWith('/migrate'));
});
const ofKind = (r: Rendering, kind: string): K8sObject[] => r.objects.filter((o) => o.kind === kind);

test('every alert links to a heading of docs/operations.md', () => {
  const headings = anchors(readFileSync(join(REPO_ROOT, 'docs', 'operations.md'), 'utf8'));
  const broken = baseRules.filter((r) => {
    const [doc, anchor] = r.annotations.runbook_url.split('#');
    return doc !== 'docs/operations.md' || !headings.has(anchor!);
  });
  expect(broken.map((r) => `${r.alert}: ${r.annotations.runbook_url}`)).toEqual([]);
});

test('rendered runbook links are absolute, built from the site RUNBOOK_URL', () => {
  for (const r of renderings) {
    const rule = ofKind(r, 'PrometheusRule')[0]! as K8sObject & { spec: { groups: Array<{ rules: Rule[] }> } };
    const urls = rule.spec.groups.flatMap((g) => g.rules.map((x) => x.annotations.runbook_url));
    expect(urls.length).toBe(baseRules.length);
    expect(urls.filter((u) => !u.startsWith(`${runbookUrl}#`))).toEqual([]);
  }
});

test('the alerts cover a dead invalidator, consumer lag, connector/task state, the slot, a failover and Redis memory', () => {
  for (const needle of [
    'absent(up{job="settings-invalidator"} == 1)',
    'kafka_consumergroup_lag{consumergroup="settings-invalidator"',
    'absent(kafka_connect_connector_status{connector="settings-postgres", status="running"} == 1)',
    'absent(kafka_connect_connector_task_status{connector="settings-postgres", status="running"} == 1)',
    'absent(pg_replication_slot_slot_is_active{slot_name="settings_cache_slot"})',
    'pg_replication_slot_slot_is_active{slot_name="settings_cache_slot"} == 0',
    'pg_postmaster_start_time_seconds',
    'redis_memory_used_bytes',
  ]) {
    expect(exprs).toContain(needle);
  }
  // The two alerts another change added stay.
  expect(baseRules.map((r) => r.alert)).toEqual(expect.arrayContaining(['SettingsInvalidatorPausedWhileRedisHealthy', 'SettingsInvalidatorDeadLetterPublishFailing']));
});

test('every Kafka/Connect/Debezium metric an alert uses is produced by a JMX exporter rule or Kafka Exporter', () => {
  const metricsCm = parse(readFileSync(join(K8S_DIR, 'base', 'kafka', 'metrics.yaml'), 'utf8')) as { data: Record<string, string> };
  const ruleNames = Object.values(metricsCm.data).flatMap((cfg) => (parse(cfg) as { rules: Array<{ name?: string }> }).rules.map((r) => r.name ?? ''));
  const produced = (metric: string): boolean =>
    ruleNames.some((n) => {
      const [fixed, rest] = n.split('$');
      // `name_$1` with $1 a hyphenated JMX attribute: the exporter turns `-` into `_`.
      return rest === undefined ? n === metric : metric.startsWith(fixed!);
    });
  const used = [...new Set(exprs.replace(/"[^"]*"/g, '').match(/\b(kafka_connect|kafka_server|kafka_controller|debezium)_[a-z_]+/g) ?? [])];
  expect(used.length).toBeGreaterThan(1);
  expect(used.filter((m) => !produced(m))).toEqual([]);
  for (const r of renderings) {
    const kafka = ofKind(r, 'Kafka')[0]!.spec as { kafka: { metricsConfig: { valueFrom: { configMapKeyRef: { key: string } } } }; kafkaExporter?: { groupRegex: string } };
    expect(Object.keys(metricsCm.data)).toContain(kafka.kafka.metricsConfig.valueFrom.configMapKeyRef.key);
    // kafka_consumergroup_* come from Kafka Exporter; it must watch the invalidator's group.
    expect(new RegExp(`^(${kafka.kafkaExporter!.groupRegex})$`).test('settings-invalidator')).toBe(true);
    const connect = ofKind(r, 'KafkaConnect')[0]!.spec as { metricsConfig: { valueFrom: { configMapKeyRef: { name: string; key: string } } } };
    expect(Object.keys(metricsCm.data)).toContain(connect.metricsConfig.valueFrom.configMapKeyRef.key);
  }
});

test('every job an alert names is scraped under that name (jobLabel: app.kubernetes.io/name)', () => {
  const jobs = [...new Set([...exprs.matchAll(/job="([^"]+)"/g)].map((m) => m[1]!))];
  expect(jobs.sort()).toEqual(['settings-invalidator', 'settings-postgres-exporter', 'settings-redis-exporter']);
  for (const r of renderings) {
    const monitors = [...ofKind(r, 'PodMonitor'), ...ofKind(r, 'ServiceMonitor')] as Array<K8sObject & { spec: { jobLabel?: string } }>;
    const names = new Set(workloads(r.objects).map((w) => w.podLabels['app.kubernetes.io/name']));
    for (const job of jobs) expect(names.has(job)).toBe(true);
    for (const m of monitors.filter((x) => x.metadata.name !== 'settings-strimzi')) expect({ m: m.metadata.name, jobLabel: m.spec.jobLabel }).toEqual({ m: m.metadata.name, jobLabel: 'app.kubernetes.io/name' });
  }
});

test('postgres_exporter runs the collectors the slot and failover alerts read', () => {
  for (const r of renderings) {
    const exporter = workloads(r.objects).find((w) => w.object.metadata.name === 'settings-postgres-exporter')!;
    const args = (exporter.pod.containers[0] as { args?: string[] }).args ?? [];
    expect(args).toEqual(expect.arrayContaining(['--collector.replication_slot', '--collector.postmaster']));
  }
});
