import { MAX_REPORTED_VIOLATIONS, SettingsError, Violations } from '../../src/errors';
import { checkPermissions } from '../../src/resources/staff-permissions/fields';
import { checkWorkingHours } from '../../src/resources/doctor-settings/fields';

function thrown(v: Violations): SettingsError {
  try {
    v.throwIfAny();
  } catch (err) {
    return err as SettingsError;
  }
  throw new Error('expected INVALID_ARGUMENT');
}

describe('reported violations are capped', () => {
  it(`reports the first ${MAX_REPORTED_VIOLATIONS} and one more saying how many were left out`, () => {
    const v = new Violations();
    for (let i = 0; i < 100_000; i++) v.add(`items[${i}]`, 'bad');
    const err = thrown(v);
    expect(err.fieldViolations).toHaveLength(MAX_REPORTED_VIOLATIONS + 1);
    expect(err.fieldViolations[0]).toEqual({ field: 'items[0]', description: 'bad' });
    expect(err.fieldViolations[MAX_REPORTED_VIOLATIONS]).toEqual({
      field: `items[${MAX_REPORTED_VIOLATIONS}]`,
      description: `${100_000 - MAX_REPORTED_VIOLATIONS} more violation(s) not listed (only the first ${MAX_REPORTED_VIOLATIONS} are reported)`,
    });
    expect(err.message).toBe('items[0]: bad (and 99999 more)');
  });

  it(`exactly ${MAX_REPORTED_VIOLATIONS} are all listed, without a summary`, () => {
    const v = new Violations();
    for (let i = 0; i < MAX_REPORTED_VIOLATIONS; i++) v.add(`f${i}`, 'bad');
    expect(thrown(v).fieldViolations).toHaveLength(MAX_REPORTED_VIOLATIONS);
  });
});

describe('repeated fields: the length is checked before the elements', () => {
  it('100,000 malformed permissions are one violation about the length', () => {
    expect(checkPermissions(Array.from({ length: 100_000 }, () => 'NOT A PERMISSION'))).toBe('at most 200 permissions');
  });

  it('100,000 malformed working hours are one violation about the length', () => {
    expect(checkWorkingHours(Array.from({ length: 100_000 }, () => ({ dayOfWeek: 0, startTime: 'x', endTime: 'y' })))).toBe('at most 50 entries');
  });
});
