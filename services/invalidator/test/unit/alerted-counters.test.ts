import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Registry } from 'prom-client';
import { createSettingsMetrics } from '@settings/settings-service';
import { createInvalidatorMetrics } from '../../src/metrics';

/**
 * Every counter an alert (deploy/k8s/base/monitoring/alerts.yaml) takes rate() or increase() of
 * is exported before its first increment: a series that first appears at 1 or more is its own
 * baseline for both, and the alert missed the first burst after a pod started. Both services'
 * metrics, here in one place (the invalidator's tests may start the settings service).
 */
const alerts = readFileSync(join(__dirname, '../../../../deploy/k8s/base/monitoring/alerts.yaml'), 'utf8');
// The calls served, as a ratio's denominator (clamp_min 1): its series exist once the pod serves
// a call, and the ratio needs calls anyway.
const DENOMINATORS = new Set(['settings_grpc_requests_total']);
const alerted = [...new Set([...alerts.matchAll(/(?:rate|increase)\(\s*((?:settings|invalidator)_[a-z_]+_total)\b/g)].map((m) => m[1]!))].filter((name) => !DENOMINATORS.has(name));

it('every counter an alert takes rate() or increase() of has its series from the start', async () => {
  const registries: Registry[] = [createSettingsMetrics().registry, createInvalidatorMetrics().registry];
  expect(alerted.length).toBeGreaterThan(1);
  const withoutSeries: string[] = [];
  for (const name of alerted) {
    const metric = registries.map((r) => r.getSingleMetric(name)).find((m) => m !== undefined);
    if (!metric || (await metric.get()).values.length === 0) withoutSeries.push(name);
  }
  expect(withoutSeries).toEqual([]);
});
