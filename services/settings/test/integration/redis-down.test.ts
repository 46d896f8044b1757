import { AccountSettings, OnPatientSettings } from '@settings/api';
import { lockTable } from '../support/row-lock';
import { accountsDeletedAfterAll, expectError, metricValue, serverForTests, waitFor } from '../support/test-server';

/**
 * Redis unreachable (a port nothing listens on; the shared stack's Redis is left alone): reads
 * come from PostgreSQL behind a concurrency limit, writes are unaffected, and once the limit is
 * full further reads fail fast with UNAVAILABLE instead of queueing.
 */
const DEAD_REDIS = 'redis://127.0.0.1:1';
const newAccount = accountsDeletedAfterAll();

describe('with Redis down', () => {
  const t = serverForTests({ REDIS_URL: DEAD_REDIS, REDIS_BREAKER_FAILURE_THRESHOLD: '3', REDIS_BREAKER_OPEN_MS: '60000' });

  it('serves reads from PostgreSQL without trying Redis, accepts writes and counts fallbacks', async () => {
    const a = newAccount();
    const name = `accounts/${a}/settings`;
    const written = await t.call('updateAccountSettings', { accountSettings: AccountSettings.fromPartial({ name, displayName: 'no cache' }), allowMissing: true });
    const fallbackBefore = await metricValue(t.running, 'settings_cache_fallback_total');

    const t0 = Date.now();
    for (let i = 0; i < 10; i++) expect(await t.call('getAccountSettings', { name })).toEqual(written);
    const perRead = (Date.now() - t0) / 10;

    expect(await metricValue(t.running, 'settings_cache_fallback_total')).toBe(fallbackBefore + 10);
    // No connection means no verified Redis (incarnation-gate.ts): reads do not even try it, so
    // they never wait for a timeout (the breaker is for a connected Redis that fails or is slow).
    expect(t.running.redis.status).not.toBe('ready');
    expect(await metricValue(t.running, 'settings_cache_requests_total', { space: 'account-settings', result: 'hit' })).toBe(0);
    // A read that tried the dead Redis would fail there: three such failures open the breaker.
    expect(await metricValue(t.running, 'settings_redis_circuit_open')).toBe(0);
    const updated = await t.call('updateAccountSettings', { accountSettings: AccountSettings.fromPartial({ name, displayName: 'still writable', etag: written.etag }), allowMissing: false });
    expect((await t.call('getAccountSettings', { name })).displayName).toBe(updated.displayName);
    process.stderr.write(`[measure] Redis down: ${perRead.toFixed(1)} ms per read served from PostgreSQL\n`);
  });
});

describe('with Redis down and the fallback limit reached', () => {
  const t = serverForTests({ REDIS_URL: DEAD_REDIS, DB_FALLBACK_MAX_CONCURRENCY: '1' });

  it('rejects further reads at once with UNAVAILABLE (LOAD_SHED) while one fallback read is stuck', async () => {
    const ids = Array.from({ length: 5 }, () => newAccount());
    for (const a of ids) {
      await t.call('updateOnPatientSettings', { onpatientSettings: OnPatientSettings.fromPartial({ name: `accounts/${a}/onpatientSettings`, portalEnabled: true }), allowMissing: true });
    }
    // Hold the first fallback read inside PostgreSQL: the lock blocks every SELECT on the table.
    const lock = await lockTable('onpatient_settings');
    try {
      const shedBefore = await metricValue(t.running, 'settings_load_shed_total');
      const stuck = t.call('getOnPatientSettings', { name: `accounts/${ids[0]}/onpatientSettings` });
      // The first call has the only permit once its read waits for the lock in PostgreSQL: a
      // fixed pause could end first on a loaded machine, and a later call would take the permit
      // and wait for the lock instead of being shed.
      await waitFor(async () => (await lock.blocked()) === 1, 5000, 'the first read blocked on the table lock');
      const t0 = Date.now();
      const errors = await Promise.all(ids.slice(1).map((a) => expectError(() => t.call('getOnPatientSettings', { name: `accounts/${a}/onpatientSettings` }))));
      const shedMs = Date.now() - t0;
      for (const e of errors) expect(e).toMatchObject({ code: 14, reason: 'LOAD_SHED' });
      expect(errors[0]!.message).toMatch(/database fallback is at its limit of 1/);
      expect(await metricValue(t.running, 'settings_load_shed_total')).toBe(shedBefore + 4);
      expect(shedMs).toBeLessThan(1000);
      await lock.release();
      expect((await stuck).portalEnabled).toBe(true);
      process.stderr.write(`[measure] 4 shed reads answered in ${shedMs} ms while the fallback was full\n`);
    } finally {
      await lock.release();
    }
  });
});
