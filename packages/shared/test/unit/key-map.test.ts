import { CACHED_TABLES, cacheKeys, cachedTableNamed, generationKey, InvalidIdError, KEY_SPACES, keysForRow, spacesTruncatedBy } from '../../src/cache/key-map';

describe('key map', () => {
  it('puts every key of an account in one Redis Cluster hash slot', () => {
    const keys = [cacheKeys.accountSettings('acme'), cacheKeys.doctorSettings('acme', 'dr-1'), cacheKeys.staffPermission('acme', 's1'), cacheKeys.staffPermissionList('acme'), cacheKeys.onPatientSettings('acme')];
    for (const k of keys) expect(k.key).toMatch(/^v1:\{acct:acme\}:/);
  });

  it.each(['', 'ACME', 'a:b', 'a}b', 'a{b', 'a b', 'a*', '-lead', 'x'.repeat(64), '../etc'])('refuses id %j so no input can forge another key', (bad) => {
    expect(() => cacheKeys.accountSettings(bad)).toThrow(InvalidIdError);
    expect(() => cacheKeys.doctorSettings('acme', bad)).toThrow(InvalidIdError);
  });

  it('maps a row to the same keys the reader uses', () => {
    expect(keysForRow('doctor_settings', { account_id: 'acme', doctor_id: 'dr-1' })).toEqual([cacheKeys.doctorSettings('acme', 'dr-1')]);
    expect(keysForRow('staff_permission_lists', { account_id: 'acme' })).toEqual([cacheKeys.staffPermissionList('acme')]);
  });

  it('a truncate of staff_permissions orphans both the permission and the list key spaces', () => {
    expect(spacesTruncatedBy('staff_permissions')).toEqual(['staff-permission', 'staff-permission-list']);
    expect(generationKey('staff-permission')).toBe('v1:{gen:staff-permission}');
  });

  it('derives the key spaces and what truncates them from the table descriptors', () => {
    expect(CACHED_TABLES).toEqual(['account_settings', 'doctor_settings', 'staff_permissions', 'staff_permission_lists', 'onpatient_settings']);
    expect(KEY_SPACES).toEqual({
      'account-settings': { truncatedBy: ['account_settings'] },
      'doctor-settings': { truncatedBy: ['doctor_settings'] },
      'staff-permission': { truncatedBy: ['staff_permissions'] },
      'staff-permission-list': { truncatedBy: ['staff_permissions', 'staff_permission_lists'] },
      'onpatient-settings': { truncatedBy: ['onpatient_settings'] },
    });
  });

  it('maps a row to its own key first, then to the keys of the tables it also evicts', () => {
    const row = { account_id: 'acme', staff_id: 's1', role: 'ROLE_NURSE', version: '7' };
    expect(cachedTableNamed('staff_permissions')!.keysForRow(row)).toEqual([cacheKeys.staffPermission('acme', 's1'), cacheKeys.staffPermissionList('acme')]);
    expect(cachedTableNamed('users')).toBeUndefined();
  });
});
