import { AUDIT_SLO_MS } from './fleet';
import { metricSum } from './metrics-scrape';
import type { Scenario } from './scenario-context';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const PROGRESS_EVERY_MS = 60_000;

/**
 * The auditor's false-positive check: no fault at all, only the seeded workload (gRPC and psql
 * writers racing readers, every hit sampled) for `sizes.soakMs` (10 minutes in the full run).
 * Normal invalidation lag is below the SLO, so any inconsistency the auditor counts is either a
 * stale entry the pipeline really left behind or an auditor bug; both fail the scenario.
 */
export const normalWorkloadAudit: Scenario = {
  name: 'normal-workload-audit',
  auditor: true,
  behaviour: 'under a normal workload with no fault the staleness auditor checks sampled hits at a bounded database cost and counts 0 inconsistencies',
  fault: 'none: the workload runs for the soak time (CHAOS_SOAK_SECONDS) with every cache hit sampled by the auditor',
  async inject({ fleet, sizes, log, note }) {
    const counters = async (): Promise<{ checked: number; inconsistent: number; queries: number; sampled: number }> => ({
      checked: await fleet.invalidatorMetricSum('invalidator_audit_checked_total'),
      inconsistent: await fleet.invalidatorMetricSum('invalidator_audit_inconsistent_total'),
      queries: await fleet.invalidatorMetricSum('invalidator_audit_db_queries_total'),
      sampled: metricSum(await fleet.settingsMetrics(), 'settings_audit_samples_total', { result: 'published' }),
    });
    const restarts0 = fleet.supervisorRestarts;
    const c0 = await counters();
    const t0 = Date.now();
    while (Date.now() - t0 < sizes.soakMs) {
      await sleep(Math.min(PROGRESS_EVERY_MS, sizes.soakMs - (Date.now() - t0)));
      const c = await counters();
      log(`soak ${Math.round((Date.now() - t0) / 1000)} s: ${c.checked - c0.checked} samples checked, ${c.inconsistent - c0.inconsistent} inconsistent, ${c.queries - c0.queries} audit queries`);
    }
    // Samples of the last seconds are decided one or two SLOs later.
    await sleep(3 * AUDIT_SLO_MS + 1_000);
    const c = await counters();
    const seconds = (Date.now() - t0) / 1000;
    const d = { checked: c.checked - c0.checked, inconsistent: c.inconsistent - c0.inconsistent, queries: c.queries - c0.queries, sampled: c.sampled - c0.sampled };
    note(
      `soak ${(sizes.soakMs / 1000).toFixed(0)} s: ${d.sampled} hits sampled by the service, ${d.checked} decided by the auditor, ` +
        `${d.inconsistent} inconsistent; ${d.queries} audit queries (${(d.queries / seconds).toFixed(1)}/s over ${fleet.replicaNames().length} replicas, ` +
        `ceiling AUDIT_MAX_QUERIES_PER_SECOND per replica)`,
    );
    if (fleet.supervisorRestarts !== restarts0) throw new Error('the supervisor restarted a service during the soak: the counters started again at 0, so their totals say nothing');
    if (d.checked === 0) throw new Error('the auditor decided no sample: the soak proves nothing');
    if (d.inconsistent > 0) throw new Error(`the auditor counted ${d.inconsistent} inconsistencies under a normal workload (invalidator logs name the keys)`);
  },
};
