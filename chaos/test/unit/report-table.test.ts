import { parseScenarios, SCENARIO_NAMES } from '../../src/config';
import { formatErrors, renderTable } from '../../src/report-table';
import type { ScenarioResult } from '../../src/run-scenario';

const result = (over: Partial<ScenarioResult>): ScenarioResult => ({
  scenario: 'redis-restart',
  fault: 'f',
  keys: 80,
  writes: 100,
  reads: 900,
  notFound: 0,
  errors: {},
  convergeSeconds: 1.25,
  convergeTimeoutSeconds: 30,
  mismatches: 0,
  mismatchExamples: [],
  probes: { written: 10, visible: 10 },
  cacheBackSeconds: 0.1,
  finalCacheHits: 80,
  notes: [],
  durationSeconds: 20,
  passed: true,
  ...over,
});

describe('report table', () => {
  it('lists errors most frequent first, "-" when there are none', () => {
    expect(formatErrors({})).toBe('-');
    expect(formatErrors({ DEADLINE_EXCEEDED: 2, UNAVAILABLE: 12, 'sql:57P01': 2 })).toBe('UNAVAILABLE 12, DEADLINE_EXCEEDED 2, sql:57P01 2');
  });

  it('one aligned row per scenario with verdict, convergence time or timeout, and mismatches', () => {
    const table = renderTable([
      result({}),
      result({ scenario: 'redis-outage-rebalance', convergeSeconds: null, mismatches: 7, passed: false, errors: { UNAVAILABLE: 3 } }),
      result({ scenario: 'kafka-restart', convergeSeconds: null, error: 'kafka did not come back', passed: false }),
    ]);
    const lines = table.split('\n');
    expect(lines).toHaveLength(5);
    expect(lines[0]).toMatch(/^\| scenario +\| result \| writes \| reads \| errors +\| converge s +\| mismatches \|$/);
    expect(lines[2]).toContain('| PASS ');
    expect(lines[2]).toContain('| 1.3 ');
    expect(lines[3]).toContain('| FAIL ');
    expect(lines[3]).toContain('timeout (>30)');
    expect(lines[3]).toContain('| 7 ');
    expect(lines[4]).toContain('| ERROR ');
    expect(new Set(lines.map((l) => l.length)).size).toBe(1);
  });
});

describe('scenario selection', () => {
  it('defaults to every scenario, keeps the given order, rejects unknown names', () => {
    expect(parseScenarios(undefined)).toEqual([...SCENARIO_NAMES]);
    expect(parseScenarios(' redis-restart , invalidator-sigkill')).toEqual(['redis-restart', 'invalidator-sigkill']);
    expect(() => parseScenarios('redis-restart,nope')).toThrow(/unknown scenario\(s\) nope/);
  });
});
