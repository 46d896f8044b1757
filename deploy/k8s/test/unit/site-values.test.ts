import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { K8S_DIR, REPO_ROOT } from '../../lib/connector';
import { objRef, placeholderPatterns, renderOverlay, SITE_ENV_EXAMPLE, TEST_SITE_ENV } from '../../lib/render';

// Site-specific values live in one place, deploy/k8s/site (site.env, from site.env.example).
// The committed tree cannot carry a real site.env, so the guard is twofold: the prod overlay
// rendered with the EXAMPLE values must be flagged (by the same patterns install.sh refuses),
// and no file outside the site folder may hold a placeholder at all.

const patterns = placeholderPatterns();
const envKeys = (file: string): string[] => readFileSync(file, 'utf8').split('\n').filter((l) => /^[A-Z_]+=/.test(l)).map((l) => l.split('=')[0]!);

test('prod rendered with site.env.example is flagged: every example value is a placeholder', () => {
  const example = readFileSync(SITE_ENV_EXAMPLE, 'utf8');
  const flagged = renderOverlay('overlays/prod', example).objects.filter((o) => patterns.some((p) => p.test(JSON.stringify(o))));
  // The registry, endpoints, address ranges (the kube-dns ClusterIP too), issuer and runbook URL
  // all reach the rendering.
  expect(flagged.map(objRef)).toEqual(expect.arrayContaining(['Deployment/settings-service', 'Service/settings-postgres', 'NetworkPolicy/settings-to-postgres', 'NetworkPolicy/settings-to-redis', 'NetworkPolicy/settings-dns', 'KafkaConnect/settings-connect', 'KafkaConnector/settings-postgres', 'PrometheusRule/settings-cache']));
  const configMaps = renderOverlay('overlays/prod', example).objects.filter((o) => o.kind === 'ConfigMap' && o.metadata.name.startsWith('settings-service-config'));
  expect(patterns.some((p) => p.test(JSON.stringify(configMaps)))).toBe(true);
});

test('each value of site.env.example is a placeholder, except the two with a common default', () => {
  const values = readFileSync(SITE_ENV_EXAMPLE, 'utf8').split('\n').filter((l) => /^[A-Z_]+=/.test(l));
  const notFlagged = values.filter((l) => !patterns.some((p) => p.test(l))).map((l) => l.split('=')[0]);
  // Prometheus's namespace and release label have a real, common default (kube-prometheus-stack).
  expect(notFlagged).toEqual(['PROMETHEUS_NAMESPACE', 'PROMETHEUS_RELEASE']);
});

test('the test site values name the same keys as the example and match no placeholder', () => {
  expect(envKeys(TEST_SITE_ENV)).toEqual(envKeys(SITE_ENV_EXAMPLE));
  const text = readFileSync(TEST_SITE_ENV, 'utf8').split('\n').filter((l) => !l.startsWith('#')).join('\n');
  expect(patterns.filter((p) => p.test(text)).map((p) => p.source)).toEqual([]);
});

test('no placeholder lives outside deploy/k8s/site: manifests, scripts, connector config, bootstrap SQL', () => {
  // Documentation (README, docs/) explains the placeholders and is not deployed; the site
  // folder and the test fixtures are where they belong.
  const skip = new Set(['site', 'test', 'dist', 'node_modules']);
  const files: string[] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir)) {
      const p = join(dir, e);
      if (statSync(p).isDirectory()) {
        if (!skip.has(e)) walk(p);
      } else if (!/\.(md|ts)$/.test(e)) files.push(p);
    }
  };
  walk(K8S_DIR);
  files.push(join(REPO_ROOT, 'deploy', 'debezium', 'settings-connector.json'), join(REPO_ROOT, 'deploy', 'postgres', 'bootstrap.sql'));
  expect(files.length).toBeGreaterThan(30);
  const hits = files.flatMap((f) =>
    readFileSync(f, 'utf8')
      .split('\n')
      .flatMap((line, i) => patterns.filter((p) => p.test(line)).map((p) => `${relative(REPO_ROOT, f)}:${i + 1}: ${p.source}: ${line.trim()}`)),
  );
  expect(hits).toEqual([]);
});
