import { auditSampleRow, cacheKeys, createLogger, decodeAuditSample, encodeAuditSample, type AuditSample, type CacheValue } from '@settings/shared';
import { TokenBucket } from '../../src/backpressure/token-bucket';
import { servesBelow, supersededFloor } from '../../src/audit/audit-decision';
import { StalenessAuditor, type AuditCache } from '../../src/audit/staleness-auditor';
import type { RowVersionSource } from '../../src/audit/row-versions';
import { createInvalidatorMetrics } from '../../src/metrics';

const GEN = 7n;
const entry = (version: bigint, generation = GEN): CacheValue => ({ kind: 'entry', version, generation, payload: Buffer.from('x') });

describe('the definition of inconsistent', () => {
  it('a row at or below the served version means the served value was current', () => {
    expect(supersededFloor(5n, 5n)).toBeUndefined();
    expect(supersededFloor(5n, 4n)).toBeUndefined();
  });
  it('a newer row supersedes below its version; a deleted row below served + 1', () => {
    expect(supersededFloor(5n, 9n)).toBe(9n);
    expect(supersededFloor(5n, undefined)).toBe(6n);
  });
  it('a cached absence (served version 0) is current while no row exists, and superseded by any row', () => {
    expect(supersededFloor(0n, undefined)).toBeUndefined();
    expect(supersededFloor(0n, 3n)).toBe(3n);
    expect(servesBelow(entry(0n), GEN, 3n)).toBe(true);
  });
  it('only an entry the read path would serve, older than the floor, is stale', () => {
    expect(servesBelow(entry(5n), GEN, 9n)).toBe(true);
    expect(servesBelow(entry(9n), GEN, 9n)).toBe(false);
    expect(servesBelow(entry(5n, 8n), GEN, 9n)).toBe(false); // another generation: a miss
    expect(servesBelow({ kind: 'marker', floor: 9n }, GEN, 9n)).toBe(false);
    expect(servesBelow(undefined, GEN, 9n)).toBe(false);
    expect(servesBelow(entry(5n), undefined, 9n)).toBe(false);
  });
  it('a cached absence of a row found deleted is current, however late the sample is audited (the deletion marker may have expired)', () => {
    // Served at 5, the row deleted since: floor 6. An absence cached after the marker expired.
    expect(servesBelow(entry(0n), GEN, 6n, true)).toBe(false);
    // The served entry itself is still stale.
    expect(servesBelow(entry(5n), GEN, 6n, true)).toBe(true);
  });
});

describe('audit samples', () => {
  it('round-trip through the stream encoding and map back to their row', () => {
    const { key } = cacheKeys.doctorSettings('acct-1', 'doc_2');
    const s: AuditSample = { key, space: 'doctor-settings', version: 42n, servedAt: 1234, payloadFormat: 2 };
    expect(decodeAuditSample(encodeAuditSample(s))).toEqual(s);
    // A sample of a release from before payload formats (no `f`): format 0, what it wrote.
    expect(decodeAuditSample(['k', key, 's', 'doctor-settings', 'v', '42', 't', '1234'])).toEqual({ ...s, payloadFormat: 0 });
    expect(auditSampleRow(s)).toMatchObject({ table: { table: 'doctor_settings' }, ids: { account_id: 'acct-1', doctor_id: 'doc_2' } });
  });
  it('reject malformed fields and keys no table produces', () => {
    expect(decodeAuditSample(['k', 'x', 's', 'nope', 'v', '1', 't', '1'])).toBeUndefined();
    expect(decodeAuditSample(['k', 'x', 's', 'account-settings', 'v', '-1', 't', '1'])).toBeUndefined();
    expect(auditSampleRow({ key: 'v1:{acct:a}:account-settings:extra', space: 'account-settings' })).toBeUndefined();
    expect(auditSampleRow({ key: 'v1:{acct:A!}:account-settings', space: 'account-settings' })).toBeUndefined();
    expect(auditSampleRow({ key: cacheKeys.accountSettings('a').key, space: 'doctor-settings' })).toBeUndefined();
  });
});

/** An auditor on fakes and a manual clock: rows and cache values are set by the test. */
function harness(sloMs = 1000, fakes: { versions?: RowVersionSource['versions']; fence?: AuditCache['fence']; lookup?: AuditCache['lookup'] } = {}) {
  let closed = false;
  let now = 0;
  /** Monotonic minus wall clock: a wall clock stepped by NTP moves `now` alone. */
  let skew = 0;
  const rows = new Map<string, bigint>();
  const cache = new Map<string, CacheValue>();
  const fenced: Array<[string, bigint]> = [];
  const queries: Array<{ table: string; keys: number }> = [];
  const rowSource: RowVersionSource = {
    versions:
      fakes.versions ??
      (async (table, ids) => {
        queries.push({ table: table.table, keys: ids.length });
        return new Map(ids.map((i) => table.key(i as never).key).filter((k) => rows.has(k)).map((k) => [k, rows.get(k)!]));
      }),
    close: async () => undefined,
  };
  const auditCache: AuditCache = {
    lookup: async (items) => {
      if (fakes.lookup) await fakes.lookup(items);
      return items.map((i) => ({ value: cache.get(i.key), generation: GEN }));
    },
    fence: async (key, floor) => {
      if (fakes.fence) return fakes.fence(key, floor);
      fenced.push([key, floor]);
      cache.set(key, { kind: 'marker', floor });
      return true;
    },
  };
  const metrics = createInvalidatorMetrics();
  const auditor = new StalenessAuditor(
    {
      source: {
        // An empty stream, read as XREADGROUP BLOCK would: a read waits (the loop would spin otherwise).
        read: async () => {
          if (!closed) await new Promise((r) => setTimeout(r, 20));
          return { samples: [], malformed: 0 };
        },
        close: async () => void (closed = true),
      }, rows: rowSource, cache: auditCache, limiter: { take: async () => undefined }, metrics, log: createLogger('t', 'silent'), now: () => now, elapsed: () => now + skew },
    { sloMs },
  );
  const values = async (name: string) => (await metrics.registry.getSingleMetric(name)!.get()).values;
  const count = async (name: string) => (await values(name))[0]!.value;
  return {
    auditor,
    rows,
    cache,
    fenced,
    queries,
    count,
    values,
    at: (t: number) => (now = t),
    /** The wall clock steps by `ms` (NTP); the monotonic one does not. */
    step: (ms: number) => {
      now += ms;
      skew -= ms;
    },
  };
}

describe('StalenessAuditor', () => {
  const key = cacheKeys.accountSettings('acct-1').key;
  const sample = (version: bigint, servedAt = 0): AuditSample => ({ key, space: 'account-settings', version, servedAt, payloadFormat: 0 });

  it('counts the samples of a round being checked as held, so the stream is not read past the bound meanwhile', async () => {
    let release: () => void = () => undefined;
    const blocked = new Promise<void>((r) => (release = r));
    const h = harness(1000, { versions: async () => { await blocked; return new Map(); } });
    h.auditor.accept(Array.from({ length: 50 }, () => sample(5n)));
    h.at(1000);
    const round = h.auditor.auditDue();
    // The round took the 50 due samples out of the list and waits for the database.
    await new Promise((r) => setImmediate(r));
    expect(h.auditor.heldSamples).toBe(50);
    release();
    await round;
    expect(h.auditor.heldSamples).toBe(0);
  });

  /** Row at v9, entry v5 cached and served `samples` times at t=0, checked once its SLO passed (t=1000): a suspect. */
  async function checkedStale(h: ReturnType<typeof harness>, samples = 1): Promise<void> {
    h.rows.set(key, 9n);
    h.cache.set(key, entry(5n));
    h.auditor.accept(Array.from({ length: samples }, () => sample(5n)));
    h.at(1000);
    await h.auditor.auditDue();
  }

  it('waits for the SLO before reading the row', async () => {
    const h = harness();
    h.rows.set(key, 5n);
    h.auditor.accept([sample(5n)]);
    h.at(999);
    await h.auditor.auditDue();
    expect(h.queries).toEqual([]);
    h.at(1000);
    await h.auditor.auditDue();
    expect(h.queries).toEqual([{ table: 'account_settings', keys: 1 }]);
    expect(await h.count('invalidator_audit_checked_total')).toBe(1);
  });

  it('normal lag: a newer row whose eviction landed by the check is consistent', async () => {
    const h = harness();
    h.rows.set(key, 9n);
    h.cache.set(key, { kind: 'marker', floor: 9n });
    h.auditor.accept([sample(5n)]);
    h.at(1000);
    await h.auditor.auditDue();
    expect(await h.count('invalidator_audit_checked_total')).toBe(1);
    expect(await h.count('invalidator_audit_inconsistent_total')).toBe(0);
  });

  it('lag that ends within the second SLO is consistent too', async () => {
    const h = harness();
    await checkedStale(h);
    expect(await h.count('invalidator_audit_checked_total')).toBe(0); // a suspect, not decided
    h.cache.set(key, { kind: 'marker', floor: 9n });
    h.at(2000);
    await h.auditor.auditDue();
    expect([await h.count('invalidator_audit_checked_total'), await h.count('invalidator_audit_inconsistent_total')]).toEqual([1, 0]);
    expect(h.fenced).toEqual([]);
  });

  it('an entry still older than its row one SLO after the check is inconsistent and fenced at the row version', async () => {
    const h = harness();
    await checkedStale(h);
    h.at(1999);
    await h.auditor.auditDue();
    expect(h.fenced).toEqual([]);
    h.at(2000);
    await h.auditor.auditDue();
    expect([await h.count('invalidator_audit_checked_total'), await h.count('invalidator_audit_inconsistent_total')]).toEqual([1, 1]);
    expect(h.fenced).toEqual([[key, 9n]]);
    expect(await h.count('invalidator_audit_inconsistency_ratio')).toBe(1);
  });

  it('several samples of one stale entry count as one inconsistency, with one fence', async () => {
    const h = harness();
    await checkedStale(h, 2);
    h.at(2000);
    await h.auditor.auditDue();
    expect([await h.count('invalidator_audit_checked_total'), await h.count('invalidator_audit_inconsistent_total')]).toEqual([1, 1]);
    expect(await h.count('invalidator_audit_skipped_total')).toBe(1);
    expect(h.fenced).toEqual([[key, 9n]]);
  });

  it('an entry of a deleted row is fenced one above the served version', async () => {
    const h = harness();
    h.cache.set(key, entry(5n));
    h.auditor.accept([sample(5n)]);
    h.at(1000);
    await h.auditor.auditDue();
    h.at(2000);
    await h.auditor.auditDue();
    expect(h.fenced).toEqual([[key, 6n]]);
  });

  it('a fence that fails is tried again at the next round, and the entry is counted once', async () => {
    let failures = 1;
    const h = harness(1000, {
      fence: async (k, floor) => {
        if (failures-- > 0) throw new Error('Command timed out');
        h.cache.set(k, { kind: 'marker', floor });
        return true;
      },
    });
    await checkedStale(h);
    h.at(2000);
    await h.auditor.auditDue();
    expect(await h.count('invalidator_audit_inconsistent_total')).toBe(1);
    expect(h.cache.get(key)).toEqual(entry(5n)); // not fenced yet: kept for another attempt
    expect(h.auditor.heldSamples).toBe(1);
    h.at(3000);
    await h.auditor.auditDue();
    expect(h.cache.get(key)).toEqual({ kind: 'marker', floor: 9n });
    expect([await h.count('invalidator_audit_checked_total'), await h.count('invalidator_audit_inconsistent_total')]).toEqual([1, 1]);
    expect(h.auditor.heldSamples).toBe(0);
  });

  it('a re-check that cannot read Redis keeps its suspects for the next SLO: the stale entry is still counted and fenced', async () => {
    let failLookups = 0;
    const h = harness(1000, {
      lookup: async () => {
        if (failLookups-- > 0) throw new Error('Command timed out');
        return [];
      },
    });
    await checkedStale(h);
    failLookups = 1;
    h.at(2000);
    await h.auditor.auditDue();
    expect(h.auditor.heldSamples).toBe(1);
    expect(await h.count('invalidator_audit_checked_total')).toBe(0);
    h.at(3000);
    await h.auditor.auditDue();
    expect([await h.count('invalidator_audit_checked_total'), await h.count('invalidator_audit_inconsistent_total')]).toEqual([1, 1]);
    expect(h.fenced).toEqual([[key, 9n]]);
  });

  it('a check that cannot read Redis drops that batch counted as redis_error, and the round goes on', async () => {
    let failLookups = 1;
    const h = harness(1000, {
      lookup: async () => {
        if (failLookups-- > 0) throw new Error('Command timed out');
        return [];
      },
    });
    const other = cacheKeys.doctorSettings('acct-1', 'doc_1').key;
    h.rows.set(key, 9n);
    h.rows.set(other, 9n);
    h.cache.set(key, entry(5n));
    h.cache.set(other, entry(5n));
    h.auditor.accept([sample(5n), { key: other, space: 'doctor-settings', version: 5n, servedAt: 0, payloadFormat: 0 }]);
    h.at(1000);
    await h.auditor.auditDue();
    expect((await h.values('invalidator_audit_skipped_total')).find((v) => v.labels.reason === 'redis_error')?.value).toBe(1);
    expect(h.auditor.heldSamples).toBe(1); // the other table's batch became a suspect
  });

  it('a stale entry whose fence failed is not counted again by a later sample of it', async () => {
    let failures = 1;
    const h = harness(1000, {
      fence: async (k, floor) => {
        if (failures-- > 0) throw new Error('OOM command not allowed');
        h.cache.set(k, { kind: 'marker', floor });
        return true;
      },
    });
    h.rows.set(key, 9n);
    h.cache.set(key, entry(5n));
    h.auditor.accept([sample(5n, 0)]);
    h.at(200);
    h.auditor.accept([sample(5n, 200)]);
    h.at(1000);
    await h.auditor.auditDue(); // the first: a suspect, due at 2000
    h.at(1200);
    await h.auditor.auditDue(); // the second: a suspect, due at 2200
    h.at(2000);
    await h.auditor.auditDue(); // the first: inconsistent, its fence fails (next attempt at 3000)
    h.at(2200);
    await h.auditor.auditDue(); // the second: the same entry, decided already
    h.at(3000);
    await h.auditor.auditDue();
    expect([await h.count('invalidator_audit_checked_total'), await h.count('invalidator_audit_inconsistent_total')]).toEqual([1, 1]);
    expect(h.cache.get(key)).toEqual({ kind: 'marker', floor: 9n });
    expect(h.auditor.heldSamples).toBe(0);
  });

  it('a wall clock stepped forward does not make a suspect due early: the re-check waits one real SLO', async () => {
    const h = harness();
    await checkedStale(h); // a suspect at t=1000, due one SLO later
    h.step(5000); // NTP: the wall clock jumps 5 s, no time passed
    await h.auditor.auditDue();
    expect(await h.count('invalidator_audit_checked_total')).toBe(0);
    expect(h.fenced).toEqual([]);
    h.at(7000); // one real SLO later (wall 1000 + 5000 step + 1000)
    await h.auditor.auditDue();
    expect(await h.count('invalidator_audit_inconsistent_total')).toBe(1);
  });

  it('audits a sample stamped in the future (a replica whose clock runs ahead) one SLO after it arrived, instead of holding it', async () => {
    const h = harness();
    h.rows.set(key, 5n);
    h.auditor.accept([sample(5n, 86_400_000)]);
    h.at(1000);
    await h.auditor.auditDue();
    expect(h.queries).toHaveLength(1);
    expect(h.auditor.heldSamples).toBe(0);
  });

  it('stop() ends a round at its next statement instead of waiting for every batch of it', async () => {
    const h = harness(1000, {
      // PostgreSQL not answering: each statement fails after its timeout.
      versions: async () => {
        await new Promise((r) => setTimeout(r, 200));
        throw new Error('connection timeout');
      },
    });
    h.auditor.accept(Array.from({ length: 1000 }, (_, i): AuditSample => ({ key: cacheKeys.accountSettings(`a${i}`).key, space: 'account-settings', version: 1n, servedAt: 0, payloadFormat: 0 })));
    h.at(5000);
    h.auditor.start();
    await new Promise((r) => setTimeout(r, 50));
    const t0 = Date.now();
    await h.auditor.stop();
    // 10 statements of 200 ms: the whole round would take 2 s.
    expect(Date.now() - t0).toBeLessThan(600);
  });

  it('batches keys per table: 250 samples of one table are 3 statements, duplicates read once', async () => {
    const h = harness();
    const samples = Array.from({ length: 250 }, (_, i): AuditSample => ({ key: cacheKeys.accountSettings(`a${i % 200}`).key, space: 'account-settings', version: 1n, servedAt: 0, payloadFormat: 0 }));
    h.auditor.accept([...samples, { key: cacheKeys.onPatientSettings('a1').key, space: 'onpatient-settings', version: 1n, servedAt: 0, payloadFormat: 0 }]);
    h.at(1000);
    await h.auditor.auditDue();
    expect(h.queries.map((q) => q.table)).toEqual(['account_settings', 'account_settings', 'account_settings', 'onpatient_settings']);
    expect(h.queries.reduce((s, q) => s + q.keys, 0)).toBeLessThanOrEqual(251);
    expect(await h.count('invalidator_audit_checked_total')).toBe(251);
  });
});

describe('the query limiter (TokenBucket at AUDIT_MAX_QUERIES_PER_SECOND)', () => {
  it('lets 100 statements through in no less than ~5 s at 20/s', async () => {
    let t = 0;
    const bucket = new TokenBucket(20, 1, () => t, async (ms) => void (t += ms));
    for (let i = 0; i < 100; i += 1) await bucket.take(1);
    // A full bucket (1 s of tokens) may be spent at once, then 20 per second.
    expect(t).toBeGreaterThanOrEqual(3950);
    expect(t).toBeLessThanOrEqual(4100);
  });
});
