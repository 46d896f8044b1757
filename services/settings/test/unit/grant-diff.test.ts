import { grantChanges } from '../../src/watch/grant-diff';

describe('staff-permission watch: per-grant creates, updates and deletes between two lists', () => {
  const g = (staff: string, etag: string): { name: string; etag: string } => ({ name: `accounts/a/staffPermissions/${staff}`, etag });

  it('reports new and changed grants whole, and the names of removed ones', () => {
    const changes = grantChanges([g('s1', '1'), g('s2', '4'), g('s3', '2')], [g('s1', '1'), g('s2', '5'), g('s4', '9')]);
    expect(changes).toEqual({ upserted: [g('s2', '5'), g('s4', '9')], deleted: ['accounts/a/staffPermissions/s3'] });
  });

  it('reports nothing for the same list', () => {
    expect(grantChanges([g('s1', '1')], [g('s1', '1')])).toEqual({ upserted: [], deleted: [] });
  });
});
