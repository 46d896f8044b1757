import { grpcCallsBetween, grpcCallsByCode, nonOkCalls } from '../../src/grpc-status';
import { parseProm } from '../../src/procs';
import { grpcChecksByRound, readPathRatios } from '../../src/scenarios/read-path-derive';

const scrape = (ok: number, unavailable: number): Map<string, number> =>
  parseProm(
    [
      '# TYPE settings_grpc_requests_total counter',
      `settings_grpc_requests_total{method="GetAccountSettings",code="OK"} ${ok}`,
      `settings_grpc_requests_total{code="UNAVAILABLE",method="GetAccountSettings"} ${unavailable}`,
      'settings_grpc_requests_total{method="UpdateAccountSettings",code="ABORTED"} 7',
    ].join('\n'),
  );

describe('gRPC status codes from the settings service counter', () => {
  it('reads calls by code for one method, whatever the label order', () => {
    expect(grpcCallsByCode(scrape(10, 2), 'GetAccountSettings')).toEqual({ OK: 10, UNAVAILABLE: 2 });
  });

  it('counts the calls between two scrapes, and the non-OK ones', () => {
    const codes = grpcCallsBetween(scrape(10, 2), scrape(5010, 5), 'GetAccountSettings');
    expect(codes).toEqual({ OK: 5000, UNAVAILABLE: 3 });
    expect(nonOkCalls(codes)).toBe(3);
  });
});

describe("a read-path round's verification", () => {
  const run = (round: number, target: string, requests: number, codes?: Record<string, number>) => ({ round, target, saturated: { requests }, ...(codes ? { saturatedGrpcCodes: codes } : {}) });

  it('fails on any non-OK call of a saturated run, and when a settings target was not counted', () => {
    const checks = grpcChecksByRound([
      run(1, 'empty', 60_000),
      run(1, 'cached', 50_000, { OK: 60_000 }),
      run(2, 'cached', 50_000, { OK: 59_000, UNAVAILABLE: 12 }),
      run(3, 'cached', 50_000),
      run(4, 'cachedL1Off', 50_000, { OK: 40_000 }),
    ]);
    expect(checks.map((c) => [c.round, c.nonOkCalls, c.verified])).toEqual([
      [1, 0, true],
      [2, 12, false],
      [3, 0, false],
      [4, 0, false],
    ]);
    expect(checks[1]!.nonOkByCode).toEqual({ UNAVAILABLE: 12 });
  });

  it('reports the fully_consistent target\'s shed calls (one caller over its deliberate-read share, by design) without failing the round', () => {
    const [check] = grpcChecksByRound([run(1, 'cached', 50_000, { OK: 50_100 }), run(1, 'consistent', 40_000, { OK: 3_000, RESOURCE_EXHAUSTED: 37_100 })]);
    expect(check).toMatchObject({ verified: true, nonOkCalls: 0, consistentNonOkByCode: { RESOURCE_EXHAUSTED: 37_100 } });
  });
});

describe('read-path ratios', () => {
  it('are the unrounded median of per-round ratios (stored run: 0.89964, not 0.900)', () => {
    const cached = [19434.67, 14016, 19210.67, 16288, 22245.33, 14101.33];
    const empty = [21365.33, 15754.67, 18736, 18826.67, 19920, 19466.67];
    const h = (rps: number) => ({ rps, latencyMs: { p50: 1, p99: 1 } });
    const runs = cached.flatMap((c, i) => [
      { round: i + 1, target: 'cached', saturated: h(c), single: h(1) },
      { round: i + 1, target: 'empty', saturated: h(empty[i]!), single: h(1) },
    ]);
    const r = readPathRatios(runs);
    expect(r.cachedRps).toBeLessThan(0.9);
    expect(r.cachedRps).toBeCloseTo(0.89964, 5);
  });
});
