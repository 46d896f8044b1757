import { observeAll } from '../../src/compare';
import type { SettingsKey } from '../../src/keys';
import type { CallResult } from '../../src/settings-client';

const key = (accountId: string): SettingsKey => ({ kind: 'account', accountId, name: `accounts/${accountId}/settings` });

/** A caller that answers each key from its script, one answer per call (the last one repeats). */
function scriptedCaller(script: Record<string, CallResult[]>): { get: (k: SettingsKey) => Promise<CallResult>; calls: Map<string, number> } {
  const calls = new Map<string, number>();
  return {
    calls,
    get: (k) => {
      const n = calls.get(k.name) ?? 0;
      calls.set(k.name, n + 1);
      const answers = script[k.accountId]!;
      return Promise.resolve(answers[Math.min(n, answers.length - 1)]!);
    },
  };
}

const found: CallResult = { ok: true, value: { version: '3', displayName: 'x' } };
const notFound: CallResult = { ok: false, code: 'NOT_FOUND', message: 'no row' };
const unavailable: CallResult = { ok: false, code: 'UNAVAILABLE', message: 'healing' };

describe('observeAll (the verifier reads of the convergence poll and the final comparison)', () => {
  it('takes NOT_FOUND as the answer: asked once, not retried like a failure', async () => {
    const caller = scriptedCaller({ gone: [notFound], here: [found] });
    const results = await observeAll(caller, [key('gone'), key('here')], 'default', 1000);
    expect(results).toEqual([notFound, found]);
    // Retried, a cached absence was counted as a cache hit four times (the comparison's
    // "served from the cache" check then passed on absences alone), and a stale one had three
    // more chances to heal before it was compared.
    expect(caller.calls.get('accounts/gone/settings')).toBe(1);
  });

  it('retries a failed call until it answers', async () => {
    const caller = scriptedCaller({ flaky: [unavailable, unavailable, found] });
    const [result] = await observeAll(caller, [key('flaky')], 'default', 1000);
    expect(result).toEqual(found);
    expect(caller.calls.get('accounts/flaky/settings')).toBe(3);
  });

  it('gives a failing call up after three retries and returns its failure', async () => {
    const caller = scriptedCaller({ down: [unavailable] });
    const [result] = await observeAll(caller, [key('down')], 'default', 1000);
    expect(result).toEqual(unavailable);
    expect(caller.calls.get('accounts/down/settings')).toBe(4);
  });
});
