import { Client } from 'pg';
import { runMain } from '@settings/shared';
import { describeCdcHeal, dropLostSlot, loadHealCdcGapConfig, runCdcHeal } from './cdc-heal';

/**
 * Operator command, shipped with the invalidator: heal a gap in the change stream (a replication
 * slot lost or recreated, connector offsets reset) by re-reading the current rows instead of
 * emptying the cache. Checks the slot (a missing or WAL-less one is recorded as a gap and
 * nothing is healed), records the optional reason as a gap, then turns every unhealed gap into
 * one Debezium incremental snapshot of the cached tables (@settings/shared cdc-gap): each row is
 * re-emitted with its current version and the invalidator evicts only the entries older than
 * their row, at its rate ceiling. Run it once the connector streams and the slot is active.
 *
 * HEAL_DATABASE_URL (or DATABASE_URL) names a role allowed to insert the signal: the
 * replication role debezium_settings (Secret settings-debezium-db, key `password`, given as
 * PGPASSWORD with a password-less URL). Not the invalidator pod's own DATABASE_URL (read-only).
 *
 *   npm run cdc:heal                                    # local stack (deploy/local)
 *   deploy/k8s/ops/heal-after-failover.sh -n <ns>       # Kubernetes: a short-lived pod runs
 *     node services/invalidator/dist/src/admin/heal-cdc-gap.js ["<reason>"]
 *     node services/invalidator/dist/src/admin/heal-cdc-gap.js --drop-lost-slot ["<reason>"]
 *       # connector stopped, offsets about to be reset: record the reason as a gap, drop a slot
 *       # PostgreSQL invalidated, heal nothing (the heal runs once the connector streams)
 * Safe to repeat: without an unhealed gap (and no reason) it does nothing.
 */
runMain({
  name: 'heal-cdc-gap',
  loadConfig: () => loadHealCdcGapConfig(),
  async start(config, log) {
    const db = new Client({ connectionString: config.databaseUrl, connectionTimeoutMillis: 5000, statement_timeout: 10_000, application_name: 'settings-heal-cdc-gap' });
    await db.connect();
    try {
      const sql = async (text: string, params?: unknown[]): Promise<Array<Record<string, unknown>>> => (await db.query(text, params)).rows as Array<Record<string, unknown>>;
      if (config.dropLostSlot) {
        log.info({ slot: config.slot, reason: config.reason }, await dropLostSlot(sql, config.slot, config.reason));
        return 0;
      }
      const report = await runCdcHeal(sql, config);
      const fields = { slot: config.slot, reason: config.reason, gaps: report.gaps, signalId: report.signalId };
      if (report.slotProblem) {
        log.error(fields, describeCdcHeal(report));
        return 1;
      }
      log.info(fields, describeCdcHeal(report));
      return 0;
    } finally {
      await db.end();
    }
  },
});
