import { FULL_SIZES, optionsFromEnv, SHORT_SIZES } from '../../src/config';

describe('chaos options from the environment', () => {
  it('soaks 10 minutes in the full run and 15 s in the short one unless CHAOS_SOAK_SECONDS says otherwise', () => {
    expect(FULL_SIZES.soakMs).toBe(600_000);
    expect(optionsFromEnv({ CHAOS_SEED: '1' }).sizes.soakMs).toBe(600_000);
    expect(optionsFromEnv({ CHAOS_SEED: '1', CHAOS_SHORT: '1' }).sizes.soakMs).toBe(SHORT_SIZES.soakMs);
    expect(optionsFromEnv({ CHAOS_SEED: '1', CHAOS_SOAK_SECONDS: '90' }).sizes.soakMs).toBe(90_000);
  });

  it('rejects a soak that is not a positive number of seconds', () => {
    expect(() => optionsFromEnv({ CHAOS_SEED: '1', CHAOS_SOAK_SECONDS: 'ten' })).toThrow(/CHAOS_SOAK_SECONDS/);
    expect(() => optionsFromEnv({ CHAOS_SEED: '1', CHAOS_SOAK_SECONDS: '0' })).toThrow(/CHAOS_SOAK_SECONDS/);
  });

  it('rejects a seed the 32-bit streams would alias to another (2^32 + 5 would repeat seed 5)', () => {
    expect(optionsFromEnv({ CHAOS_SEED: '4294967295' }).seed).toBe(4294967295);
    expect(() => optionsFromEnv({ CHAOS_SEED: '4294967301' })).toThrow(/CHAOS_SEED/);
  });

  it('runs the no-fault audit soak first in a full run', () => {
    expect(optionsFromEnv({ CHAOS_SEED: '1' }).scenarios[0]).toBe('normal-workload-audit');
  });
});
