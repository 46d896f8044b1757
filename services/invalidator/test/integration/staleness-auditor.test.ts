import { AccountSettings, type GetAccountSettingsRequest, type UpdateAccountSettingsRequest } from '@settings/api';
import { generationKey, localRedisUrl, PAYLOAD_FORMATS, servedGeneration, withCacheScripts } from '@settings/shared';
import Redis from 'ioredis';
import { readCache, startTestInvalidator, waitFor } from '../support/test-invalidator';
import type { RunningInvalidator } from '../../src/invalidator';
import { startLocalSettingsService, type LocalSettingsService } from '../support/local-settings-service';

/**
 * The staleness auditor against the real stack: the service samples every hit
 * (AUDIT_SAMPLE_EVERY=1), the invalidator audits them with a 1 s SLO. A stale entry planted
 * straight into Redis is caught, logged and fenced; a normal workload with live invalidation
 * shows no inconsistency (audited with a 4 s SLO, see WORKLOAD_SLO_MS).
 */
jest.setTimeout(120_000);
const SLO_MS = 1000;
/**
 * The normal workload's SLO. Any eviction later than one SLO may count as inconsistent, and on a
 * loaded CI machine one stall of Debezium, Kafka or this process (a JVM pause: 1–2 s) delays an
 * eviction past 1 s. That is the SLO doing its job, not what the test is about (normal lag must
 * not count, a lost eviction must): a lost eviction stays stale until its TTL, far past any SLO,
 * and with 4 s the first half of the 8 s workload is still audited while evictions are in flight.
 */
const WORKLOAD_SLO_MS = 4000;
let settings: LocalSettingsService;
let inv: RunningInvalidator;
const redis = withCacheScripts(new Redis(localRedisUrl, { maxRetriesPerRequest: 1 }));

const counter = async (name: string): Promise<number> => (await inv.metrics.registry.getSingleMetric(name)!.get()).values.reduce((s, v) => s + v.value, 0);

/** Each describe block audits with its own invalidator (its own audit group), started at `sloMs`. */
function auditingWithSlo(sloMs: number): void {
  beforeAll(async () => {
    inv = await startTestInvalidator({ AUDIT_SLO_MS: String(sloMs), AUDIT_MAX_QUERIES_PER_SECOND: '20' });
  });
  afterAll(async () => {
    await inv.stop();
  });
}

beforeAll(async () => {
  settings = await startLocalSettingsService({ AUDIT_SAMPLE_EVERY: '1' });
});
afterAll(async () => {
  await settings.stop();
  redis.disconnect();
});

const update = (req: UpdateAccountSettingsRequest): Promise<AccountSettings> => settings.update(req);
const get = (req: GetAccountSettingsRequest): Promise<AccountSettings> => settings.get(req);

const newAccount = (displayName: string) => settings.newAccount(displayName);

/** Reads through the cache until it holds an entry at `etag`; returns that entry. */
async function cachedEntry(name: string, key: string, etag: string, read = get) {
  await waitFor(async () => {
    await read({ name });
    const v = await readCache(redis, key);
    return v?.kind === 'entry' && v.version === BigInt(etag);
  }, 20_000, `cache entry at version ${etag}`);
  const v = await readCache(redis, key);
  if (v?.kind !== 'entry') throw new Error('not an entry');
  return v;
}

describe('with a 1 s SLO', () => {
  auditingWithSlo(SLO_MS);

  it('a planted stale entry is counted as inconsistent within 7 s of the stale read (two 1 s SLOs plus 5 s of slack), fenced, and the next read is fresh', async () => {
    const { name, key } = await newAccount('Before');
    const first = await get({ name });
    const old = await cachedEntry(name, key, first.etag);

    const written = await update({ accountSettings: AccountSettings.fromPartial({ name, displayName: 'After' }), updateMask: ['display_name'], allowMissing: false });
    await waitFor(async () => (await readCache(redis, key))?.kind === 'marker', 20_000, 'eviction marker of the update');
    // The hits served before the update are decided first: they were fresh when served, and the
    // planted entry below must be what the auditor finds, once.
    await waitFor(() => inv.auditor!.heldSamples === 0, 4 * SLO_MS + 5000, 'earlier samples decided');

    // The planted inconsistency: the old entry back under the current generation, as if its
    // eviction had been lost (the test removes the marker; nothing in the system would).
    const generation = (await redis.get(generationKey('account-settings')))!;
    await redis.del(key);
    expect(await redis.versionedFill(key, old.version.toString(), generation, 300_000, old.payload, 600_000)).toBe(1);
    const before = { checked: await counter('invalidator_audit_checked_total'), inconsistent: await counter('invalidator_audit_inconsistent_total') };

    const servedAt = Date.now();
    expect((await get({ name })).displayName).toBe('Before'); // served stale, and sampled
    await waitFor(async () => (await counter('invalidator_audit_inconsistent_total')) > before.inconsistent, 2 * SLO_MS + 5000, 'auditor counts the planted entry');
    const caughtMs = Date.now() - servedAt;
    expect(await counter('invalidator_audit_inconsistent_total')).toBe(before.inconsistent + 1);
    // Counted before it is fenced: the auditor's verdict comes first, its fence (a Redis script
    // call) after another await. So the fence is awaited, not read once.
    await waitFor(async () => (await readCache(redis, key))?.kind === 'marker', 5000, 'the planted entry fenced');
    expect(await readCache(redis, key)).toEqual({ kind: 'marker', floor: BigInt(written.etag) });
    expect((await get({ name })).displayName).toBe('After');
    process.stderr.write(`[measure] planted stale entry served → counted and fenced: ${caughtMs} ms (SLO ${SLO_MS} ms)\n`);
  });

  it('judges a sample by the payload format of the replica that served it: a stale entry served by a release of another format is caught too', async () => {
    // A settings replica of a later release (account settings in payload format 1), as during a
    // rolling update; this invalidator writes format 0.
    const later = await startLocalSettingsService({ AUDIT_SAMPLE_EVERY: '1' }, { payloadFormats: { ...PAYLOAD_FORMATS, 'account-settings': 1 } });
    try {
      const { name, key } = await later.newAccount('Before');
      const first = await later.get({ name });
      const old = await cachedEntry(name, key, first.etag, (req) => later.get(req));
      expect(old.generation).toBe(servedGeneration('account-settings', 1, BigInt((await redis.get(generationKey('account-settings')))!)));

      const written = await later.update({ accountSettings: AccountSettings.fromPartial({ name, displayName: 'After' }), updateMask: ['display_name'], allowMissing: false });
      await waitFor(async () => (await readCache(redis, key))?.kind === 'marker', 20_000, 'eviction marker of the update');
      await waitFor(() => inv.auditor!.heldSamples === 0, 4 * SLO_MS + 5000, 'earlier samples decided');

      // The old entry back under the generation the later release serves, as if its eviction had been lost.
      await redis.del(key);
      expect(await redis.versionedFill(key, old.version.toString(), old.generation.toString(), 300_000, old.payload, 600_000)).toBe(1);
      const before = await counter('invalidator_audit_inconsistent_total');
      expect((await later.get({ name })).displayName).toBe('Before'); // served stale by the later release, and sampled
      await waitFor(async () => (await counter('invalidator_audit_inconsistent_total')) > before, 2 * SLO_MS + 5000, 'auditor counts the entry the later release served');
      // Fenced after it is counted (as above): awaited.
      await waitFor(async () => (await readCache(redis, key))?.kind === 'marker', 5000, 'the entry the later release served fenced');
      expect(await readCache(redis, key)).toEqual({ kind: 'marker', floor: BigInt(written.etag) });
    } finally {
      await later.stop();
    }
  });
});

describe(`with a ${WORKLOAD_SLO_MS / 1000} s SLO`, () => {
  auditingWithSlo(WORKLOAD_SLO_MS);

  it('a normal workload with live invalidation: samples are checked and none is inconsistent', async () => {
    const before = {
      checked: await counter('invalidator_audit_checked_total'),
      inconsistent: await counter('invalidator_audit_inconsistent_total'),
      queries: await counter('invalidator_audit_db_queries_total'),
    };
    const items = await Promise.all(Array.from({ length: 20 }, (_, i) => newAccount(`v0-${i}`)));
    const t0 = Date.now();
    let reads = 0;
    // Writes and cached reads interleaved for 8 s: many hits are served while an update's
    // eviction is still in flight (normal lag), which must not count.
    for (let round = 1; Date.now() - t0 < 8000; round += 1) {
      await Promise.all(
        items.map(async ({ name }, i) => {
          if ((round + i) % 4 === 0) await update({ accountSettings: AccountSettings.fromPartial({ name, displayName: `v${round}-${i}` }), updateMask: ['display_name'], allowMissing: false });
          await get({ name });
          await get({ name });
          reads += 2;
        }),
      );
    }
    const seconds = (Date.now() - t0) / 1000;
    // Every sample of the workload is decided 1–2 SLOs after it was served.
    await waitFor(async () => inv.auditor!.heldSamples === 0, 4 * WORKLOAD_SLO_MS + 5000, 'auditor caught up');
    const auditSeconds = (Date.now() - t0) / 1000;
    const checked = (await counter('invalidator_audit_checked_total')) - before.checked;
    const inconsistent = (await counter('invalidator_audit_inconsistent_total')) - before.inconsistent;
    const queries = (await counter('invalidator_audit_db_queries_total')) - before.queries;
    process.stderr.write(
      `[measure] normal workload: ${reads} reads in ${seconds.toFixed(1)} s, audited ${checked} samples, ${inconsistent} inconsistent, ${queries} audit queries (${(queries / seconds).toFixed(1)}/s over the workload)\n`,
    );
    expect(checked).toBeGreaterThan(100);
    expect(inconsistent).toBe(0);
    // The token bucket (AUDIT_MAX_QUERIES_PER_SECOND=20, one second of burst) bounds the queries
    // over the whole time the auditor worked on this workload.
    expect(queries).toBeLessThanOrEqual(20 * auditSeconds + 20);
  });
});
