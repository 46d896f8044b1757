import { AccountSettings } from '@settings/api';
import { accountsDeletedAfterAll, decodeError, metricValue, mintToken, serverForTests, type DecodedError } from '../support/test-server';

/**
 * The per-caller rate of deliberate database reads (DB_DELIBERATE_READS_PER_CALLER_PER_SECOND,
 * issue 11): a caller over its rate is refused at once with RESOURCE_EXHAUSTED
 * (CALLER_SHARE_EXCEEDED) and a RetryInfo, on top of the concurrent share, while another
 * caller's deliberate reads are admitted.
 */
const newAccount = accountsDeletedAfterAll();
const fullyConsistent = { requirement: { $case: 'fullyConsistent' as const, value: true } };

describe('deliberate database reads are rate-limited per caller', () => {
  // One read per second, a burst of two: the third read within a second is over the rate. A
  // long wait for the share, so a refusal that waited would show.
  const t = serverForTests({ DB_DELIBERATE_READS_PER_CALLER_PER_SECOND: '1', DB_DELIBERATE_READ_BURST_PER_CALLER: '2', DB_DELIBERATE_READ_MAX_WAIT_MS: '5000' });

  it('a caller over its rate gets RESOURCE_EXHAUSTED with a RetryInfo at once while another caller is admitted', async () => {
    const [flooder, other] = await Promise.all([mintToken({ sub: 'rate-flooder' }), mintToken({ sub: 'rate-other' })]);
    const a = newAccount();
    await t.call('updateAccountSettings', { accountSettings: AccountSettings.fromPartial({ name: `accounts/${a}/settings`, displayName: 'rated' }), updateMask: ['display_name'], allowMissing: true });
    const get = (token: string) => t.call('getAccountSettings', { name: `accounts/${a}/settings`, consistency: fullyConsistent }, { token, deadlineMs: 5000 });

    // Sequential reads (never coalesced): the burst passes, then one is refused. A slow machine
    // may refill a token between two reads, so keep going (at 1/s, a handful is plenty).
    let admitted = 0;
    let refused: DecodedError | undefined;
    let refusedAfterMs = 0;
    const startedAt = Date.now();
    for (let i = 0; i < 20 && !refused; i++) {
      const t0 = Date.now();
      try {
        expect((await get(flooder)).displayName).toBe('rated');
        admitted += 1;
      } catch (err) {
        refused = decodeError(err);
        refusedAfterMs = Date.now() - t0;
      }
    }
    expect(admitted).toBeGreaterThanOrEqual(2);
    expect(admitted).toBeLessThanOrEqual(2 + Math.ceil((Date.now() - startedAt) / 1000));
    expect(refused).toMatchObject({ code: 8 /* RESOURCE_EXHAUSTED */, reason: 'CALLER_SHARE_EXCEEDED', retryDelayMs: 100 });
    // Refused without waiting (a wait for the share would take DB_DELIBERATE_READ_MAX_WAIT_MS).
    expect(refusedAfterMs).toBeLessThan(2500);
    expect(await metricValue(t.running, 'settings_deliberate_reads_total', { result: 'rate_limited' })).toBeGreaterThanOrEqual(1);

    // The other caller has its own bucket: admitted right away.
    expect((await get(other)).displayName).toBe('rated');
  });

  it('calls that share one database read each spend the rate: 16 concurrent fully_consistent reads of one key get at most the burst plus its refill through', async () => {
    const flooder = await mintToken({ sub: 'rate-shared-flooder' });
    const a = newAccount();
    await t.call('updateAccountSettings', { accountSettings: AccountSettings.fromPartial({ name: `accounts/${a}/settings`, displayName: 'shared' }), updateMask: ['display_name'], allowMissing: true });
    const startedAt = Date.now();
    // Sent together: calls that arrive together share one query (single-flight), which took a
    // token once for all of them.
    const outcomes = await Promise.all(
      Array.from({ length: 16 }, () =>
        t.call('getAccountSettings', { name: `accounts/${a}/settings`, consistency: fullyConsistent }, { token: flooder, deadlineMs: 5000 }).then(
          (r) => r.displayName,
          (err: unknown) => decodeError(err).reason,
        ),
      ),
    );
    const served = outcomes.filter((o) => o === 'shared').length;
    expect(served).toBeGreaterThanOrEqual(1);
    expect(served).toBeLessThanOrEqual(2 + Math.ceil((Date.now() - startedAt) / 1000));
    expect(outcomes.filter((o) => o !== 'shared').every((o) => o === 'CALLER_SHARE_EXCEEDED')).toBe(true);
  });
});
