import Redis from 'ioredis';
import { AUDIT_STREAM_MAX_LEN, auditSamplesKey, cacheKeys, encodeAuditSample, localRedisUrl, type AuditSample } from '@settings/shared';
import type { RunningInvalidator } from '../../src/invalidator';
import { startTestInvalidator, uniqueId, waitFor } from '../support/test-invalidator';

/**
 * README, staleness auditor: "at most 10 000 samples are held in memory (the stream is not read
 * above that)", against the real Redis stream. Samples wait in memory until their SLO has passed
 * (60 s here, longer than the test), so reading the whole backlog would hold all of it. The
 * auditor read 500 at a time whatever it held: from 9,800 held it went to 10,300.
 */
jest.setTimeout(60_000);
const MAX_HELD = 10_000;
const redis = new Redis(localRedisUrl, { maxRetriesPerRequest: 1 });
let inv: RunningInvalidator | undefined;

afterAll(async () => {
  await inv?.stop();
  redis.disconnect();
});

/** `n` well-formed samples of account-settings keys nobody caches, served now; XADDed as the service does. */
async function publish(n: number): Promise<void> {
  const prefix = uniqueId('audit-held-');
  for (let from = 0; from < n; from += 1000) {
    const pipeline = redis.pipeline();
    for (let i = from; i < Math.min(n, from + 1000); i++) {
      const sample: AuditSample = { key: cacheKeys.accountSettings(`${prefix}-${i}`).key, space: 'account-settings', version: 1n, servedAt: Date.now(), payloadFormat: 0 };
      pipeline.xadd(auditSamplesKey(), 'MAXLEN', '~', String(AUDIT_STREAM_MAX_LEN), '*', ...encodeAuditSample(sample));
    }
    await pipeline.exec();
  }
}

it('holds at most 10,000 samples however many wait in the stream, and reads up to that bound', async () => {
  inv = await startTestInvalidator({ AUDIT_SLO_MS: '60000' });
  const auditor = inv.auditor!;
  // 300 first, so that full reads of 500 from here on would not land on the bound exactly.
  await waitFor(async () => {
    await publish(1);
    return auditor.heldSamples > 0;
  }, 20_000, 'the auditor reading the stream');
  await publish(299);
  await waitFor(() => auditor.heldSamples >= 300, 10_000, '300 samples held');
  let most = auditor.heldSamples;
  const watch = setInterval(() => (most = Math.max(most, auditor.heldSamples)), 5);
  try {
    await publish(11_700);
    // It reads until the bound, then stops reading; give it time to go past it if it would.
    await waitFor(() => auditor.heldSamples >= MAX_HELD - 500, 20_000, 'the backlog read up to the bound');
    await new Promise((r) => setTimeout(r, 2000));
  } finally {
    clearInterval(watch);
  }
  most = Math.max(most, auditor.heldSamples);
  expect(most).toBeLessThanOrEqual(MAX_HELD);
  expect(auditor.heldSamples).toBeGreaterThanOrEqual(MAX_HELD - 500);
});
