import { PAYLOAD_FORMATS, PayloadGenerations, SETTINGS_TABLES } from '../../src';

/** Payload formats folded into generations (payload-generation.ts): pure arithmetic. */
describe('PayloadGenerations', () => {
  const g = 0x000f_1234_5678_9abcn; // a 52-bit generation as newGeneration() draws them

  it('is the identity for format 0, the format of every table today', () => {
    expect(SETTINGS_TABLES.map((t) => t.payloadFormat)).toEqual(SETTINGS_TABLES.map(() => 0));
    const generations = new PayloadGenerations();
    for (const t of SETTINGS_TABLES) expect(generations.of(t.space, g)).toBe(g);
  });

  it('gives another format another 52-bit generation, per space, and turns it back into the one Redis holds', () => {
    const v1 = new PayloadGenerations({ ...PAYLOAD_FORMATS, 'account-settings': 1 });
    const v2 = new PayloadGenerations({ ...PAYLOAD_FORMATS, 'account-settings': 2 });
    const served = v1.of('account-settings', g);
    expect(served).not.toBe(g);
    expect(served).toBeLessThan(1n << 52n);
    expect(v2.of('account-settings', g)).not.toBe(served);
    expect(v1.of('account-settings', served)).toBe(g);
    // Only the space whose format changed.
    expect(v1.of('doctor-settings', g)).toBe(g);
    // Another space at the same format number gets another salt.
    const d1 = new PayloadGenerations({ ...PAYLOAD_FORMATS, 'doctor-settings': 1 });
    expect(d1.of('doctor-settings', g) ^ g).not.toBe(served ^ g);
  });

  it('refuses a format that is not a non-negative integer', () => {
    expect(() => new PayloadGenerations({ ...PAYLOAD_FORMATS, 'account-settings': -1 })).toThrow('non-negative integer');
    expect(() => new PayloadGenerations({ ...PAYLOAD_FORMATS, 'account-settings': 1.5 })).toThrow('non-negative integer');
  });
});
