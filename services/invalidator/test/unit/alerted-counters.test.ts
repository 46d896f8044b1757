import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInvalidatorMetrics } from '../../src/metrics';

/**
 * Every counter an alert (deploy/k8s/base/monitoring/alerts.yaml) takes rate() or increase() of
 * is exported before its first increment: a series that first appears at 1 or more is its own
 * baseline for both, and the alert missed the first burst after a pod started.
 */
const alerts = readFileSync(join(__dirname, '../../../../deploy/k8s/base/monitoring/alerts.yaml'), 'utf8');
const alerted = [...new Set([...alerts.matchAll(/(?:rate|increase)\(\s*(invalidator_[a-z_]+_total)\b/g)].map((m) => m[1]!))];

it('every counter an alert takes rate() or increase() of has its series from the start', async () => {
  const { registry } = createInvalidatorMetrics();
  expect(alerted.length).toBeGreaterThan(0);
  const withoutSeries: string[] = [];
  for (const name of alerted) {
    const metric = registry.getSingleMetric(name);
    if (!metric || (await metric.get()).values.length === 0) withoutSeries.push(name);
  }
  expect(withoutSeries).toEqual([]);
});
