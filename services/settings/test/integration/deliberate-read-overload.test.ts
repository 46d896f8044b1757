import { AccountSettings } from '@settings/api';
import { lockTable } from '../support/row-lock';
import { accountsDeletedAfterAll, decodeError, metricValue, mintToken, serverForTests, waitFor, type DecodedError } from '../support/test-server';

/**
 * The two refusals of the deliberate-read limiter a caller cannot be blamed for, or must be slowed
 * down by (README "Reads that go to PostgreSQL on purpose", failure mode "one caller floods
 * `fully_consistent` or fresh-token reads"): a caller under its share that finds every permit in
 * use is told the replica is overloaded (UNAVAILABLE LOAD_SHED), not that it is over its share; a
 * caller over its rate is refused without waiting for a permit, but answered the refusal delay late.
 */
const newAccount = accountsDeletedAfterAll();
const fullyConsistent = { requirement: { $case: 'fullyConsistent' as const, value: true } };
const MAX_WAIT_MS = 300;
const REFUSAL_DELAY_MS = 400;
const DEADLINE_MS = 10_000;

describe('deliberate database reads beyond what the replica or the caller\'s rate allows', () => {
  // Two permits per process, two per caller (so one caller alone may take both); a caller may
  // start two deliberate reads at once (burst) and one a second after that.
  const t = serverForTests({
    DB_DELIBERATE_READ_MAX_CONCURRENCY: '2',
    DB_DELIBERATE_READS_PER_CALLER: '2',
    DB_DELIBERATE_READ_MAX_WAIT_MS: String(MAX_WAIT_MS),
    DB_DELIBERATE_READS_PER_CALLER_PER_SECOND: '1',
    DB_DELIBERATE_READ_BURST_PER_CALLER: '2',
    DB_DELIBERATE_READ_REFUSAL_DELAY_MS: String(REFUSAL_DELAY_MS),
  });
  const reads = (result: string): Promise<number> => metricValue(t.running, 'settings_deliberate_reads_total', { result });
  const save = async (account: string, displayName: string): Promise<void> => {
    const accountSettings = AccountSettings.fromPartial({ name: `accounts/${account}/settings`, displayName });
    await t.call('updateAccountSettings', { accountSettings, updateMask: ['display_name'], allowMissing: true });
  };
  /** A fully_consistent Get: its display name, or the decoded error and how long the answer took. */
  const timedRead = async (account: string, token: string): Promise<{ displayName?: string; err?: DecodedError; ms: number }> => {
    const started = Date.now();
    try {
      const read = await t.call('getAccountSettings', { name: `accounts/${account}/settings`, consistency: fullyConsistent }, { token, deadlineMs: DEADLINE_MS });
      return { displayName: read.displayName, ms: Date.now() - started };
    } catch (e) {
      return { err: decodeError(e), ms: Date.now() - started };
    }
  };

  it('callers under their share that find every permit held by another caller for the max wait get UNAVAILABLE LOAD_SHED, counted as overloaded', async () => {
    const [holder, b, c] = await Promise.all([mintToken({ sub: 'overload-holder' }), mintToken({ sub: 'overload-b' }), mintToken({ sub: 'overload-c' })]);
    const [h1, h2, other1, other2] = [newAccount(), newAccount(), newAccount(), newAccount()];
    for (const a of [h1, h2, other1, other2]) await save(a, `name of ${a}`);
    const before = { admitted: (await reads('admitted')) + (await reads('waited')), overloaded: await reads('overloaded'), shed: await reads('shed') };
    // Every statement on account_settings waits for this transaction: admitted reads keep their permits.
    const lock = await lockTable('account_settings', 'deliberate-read-overload-locker');
    try {
      // The holder, alone, may take both permits (its share is min(2, ceil(2 / 1)) = 2).
      const held = [h1, h2].map((a) => timedRead(a, holder));
      await waitFor(async () => (await reads('admitted')) + (await reads('waited')) - before.admitted === 2 && (await lock.blocked()) >= 1, 10_000, 'the holder\'s two reads admitted and blocked in PostgreSQL');
      // b and c hold nothing and wait for nothing: each is under its share (ceil(2 / 3) = 1).
      const refused = await Promise.all([timedRead(other1, b), timedRead(other2, c)]);
      for (const r of refused) {
        expect(r.err).toMatchObject({ code: 14 /* UNAVAILABLE */, reason: 'LOAD_SHED', retryDelayMs: 200 });
        // Refused after waiting for a permit, not at once.
        expect(r.ms).toBeGreaterThanOrEqual(MAX_WAIT_MS - 20);
      }
      expect(await reads('overloaded')).toBe(before.overloaded + 2);
      expect(await reads('shed')).toBe(before.shed);
      // Nobody got a permit meanwhile: the holder's two reads still have them.
      expect((await reads('admitted')) + (await reads('waited')) - before.admitted).toBe(2);
      await lock.release();
      expect((await Promise.all(held)).map((r) => r.displayName)).toEqual([`name of ${h1}`, `name of ${h2}`]);
    } finally {
      await lock.release();
    }
  });

  it('a caller over its per-second rate is refused with RESOURCE_EXHAUSTED CALLER_SHARE_EXCEEDED the refusal delay late, before its deadline, counted as rate_limited', async () => {
    const flooder = await mintToken({ sub: 'overload-rate-flooder' });
    const a = newAccount();
    await save(a, 'rated');
    const rateLimitedBefore = await reads('rate_limited');
    // Sequential reads (never sharing a query): the burst of two passes, then one is refused. A
    // slow machine may refill a token between two reads, so keep going (at 1/s, 20 is plenty).
    let admitted = 0;
    let refusal: { err?: DecodedError; ms: number } | undefined;
    for (let i = 0; i < 20 && !refusal; i++) {
      const r = await timedRead(a, flooder);
      if (r.err) refusal = r;
      else {
        expect(r.displayName).toBe('rated');
        admitted += 1;
      }
    }
    expect(admitted).toBeGreaterThanOrEqual(2);
    expect(refusal?.err).toMatchObject({ code: 8 /* RESOURCE_EXHAUSTED */, reason: 'CALLER_SHARE_EXCEEDED', retryDelayMs: 100 });
    expect(refusal?.ms).toBeGreaterThanOrEqual(REFUSAL_DELAY_MS - 20);
    expect(refusal?.ms).toBeLessThan(DEADLINE_MS);
    expect(await reads('rate_limited')).toBe(rateLimitedBefore + 1);
  });
});
