import Redis from 'ioredis';
import { localRedisUrl } from '@settings/shared';
import { fencedAccounts, sql, startTestInvalidator, uniqueId } from '../support/test-invalidator';
import type { RunningInvalidator } from '../../src/invalidator';

/**
 * The incident's failure: a burst of invalidations overloading Redis. A bulk UPDATE of 50,000
 * rows must be evicted no faster than the configured ceiling in keys per second, measured in
 * Redis (markers appearing per second), and still leave every affected key fenced at its new
 * version.
 */
jest.setTimeout(300_000);
const N = 50_000;
const CEILING = 4000;
/** Samples (seconds) the rate is measured over. */
const WINDOW = 3;
const prefix = uniqueId('bulk');
let inv: RunningInvalidator;

beforeAll(async () => {
  await sql(`INSERT INTO account_settings (account_id) SELECT $1 || '-' || g FROM generate_series(1, ${N}) g`, [prefix]);
});
afterAll(async () => {
  await inv?.stop();
  await sql('DELETE FROM account_settings WHERE account_id LIKE $1', [`${prefix}-%`]);
});

it('a 50,000-row bulk update is evicted at no more than 1.15 times the keys/s ceiling over any 3 s window and leaves every key consistent', async () => {
  // Start after the inserts so the measured burst is the bulk update alone.
  inv = await startTestInvalidator({ EVICTION_MAX_KEYS_PER_SECOND: String(CEILING), REDIS_LATENCY_TARGET_MS: '1000' });
  await sql(`UPDATE account_settings SET display_name = 'bulk' WHERE account_id LIKE $1`, [`${prefix}-%`]);
  const versions: Array<readonly [string, bigint]> = (await sql('SELECT account_id, version FROM account_settings WHERE account_id LIKE $1', [`${prefix}-%`])).map((r) => [r.account_id as string, BigInt(r.version as string)] as const);
  expect(versions).toHaveLength(N);

  // The ceiling counts keys, and so does this measurement: once a second, how many of this
  // test's keys Redis holds fenced at their new version (the shared stack's other traffic does
  // not count, unlike INFO commandstats; one script call now carries many keys).
  const sampler = new Redis(localRedisUrl);
  /** (when, how many keys were fenced by then), one sample a second. */
  const samples: Array<{ at: number; fenced: number }> = [];
  const sample = async (): Promise<void> => {
    const scanStart = Date.now();
    const fenced = (await fencedAccounts(sampler, versions)).length;
    // A scan reads its 50 slices one after another, so its count is as of the middle of the
    // scan, not its end: timing it at the end overstates the rate after a slow scan (the
    // machine is shared; one scan can take several times the next).
    samples.push({ at: (scanStart + Date.now()) / 2, fenced });
  };
  // The first sample counts too: keys evicted while the versions were read are not in any window.
  await sample();
  const started = Date.now();
  while (samples[samples.length - 1]!.fenced < N && Date.now() - started < 240_000) {
    await new Promise((r) => setTimeout(r, 1000));
    await sample();
  }
  sampler.disconnect();
  const last = samples[samples.length - 1]!.fenced;
  // The rate over every window of WINDOW consecutive samples, the first and last included: a
  // partial window can only under-count the rate (its keys are divided by its whole length), and
  // the first is where a start-up burst beyond the ceiling would show. Not over single seconds:
  // a key is counted when Redis applied it, which on a loaded machine lags its send (metered by
  // the ceiling) by a varying 100-200 ms, and a sample's own time is uncertain by as much; over
  // one second that alone read 4,716 keys/s against the 4,000 ceiling (CPU-loaded run). Over
  // three the same jitter is a third as large, while a ceiling that is off, counts calls instead
  // of keys, or starts with a second of tokens (×1.33 over three) still shows above the slack.
  const rates = (span: number): number[] =>
    samples.slice(span).map((s, i) => Math.round((s.fenced - samples[i]!.fenced) / ((s.at - samples[i]!.at) / 1000)));
  const perSecond = rates(1).filter((n) => n > 0);
  const peak = Math.max(...rates(Math.min(WINDOW, samples.length - 1)));
  process.stderr.write(
    `[measure] bulk 50k: ${samples.length - 1} s, peak ${peak} keys/s over ${WINDOW} s windows, ` +
      `per second peak ${Math.max(...perSecond)} / median ${[...perSecond].sort((a, b) => a - b)[Math.floor(perSecond.length / 2)]} keys/s (ceiling ${CEILING} keys/s)\n`,
  );
  // The token bucket lets a window of T seconds through rate × (T + 0.05): some slack for that
  // and for the ~100 ms the 50 MGETs of a sample take.
  expect(peak).toBeLessThanOrEqual(CEILING * 1.15);
  expect(last).toBe(N);
});
