import { ListStaffPermissionsResponse, StaffPermission } from '@settings/api';
import { staffListSource } from '../../src/resources/staff-permissions/staff-permission-list';

/** The cached grant list as the read path decodes it (pure logic: no loader is called). */
const source = (maxBytes: number) => staffListSource(async () => ({ listVersion: 1n, items: [], truncated: false }), { maxRows: 1000, maxBytes });
const grant = (staff: string, permissions: string[] = ['read']) => StaffPermission.fromPartial({ name: `accounts/acme/staffPermissions/${staff}`, permissions });
const encoded = (items: StaffPermission[]) => Buffer.from(ListStaffPermissionsResponse.encode({ staffPermissions: items, nextPageToken: '' }).finish());

it('decodes a list stored in a database collation\'s order into byte order of staff id (what List pages by)', () => {
  // en_US order ('_' and '-' before digits), as entries filled before COLLATE "C" hold them.
  const got = source(1 << 20).decode(encoded([grant('s_a'), grant('s-x'), grant('s0')]));
  expect(got.items.map((g) => g.name.split('/').pop())).toEqual(['s-x', 's0', 's_a']);
  expect(got.truncated).toBe(false);
});

it('treats a cached list larger than this replica\'s byte cap as one to page from PostgreSQL', () => {
  const big = encoded(Array.from({ length: 10 }, (_, i) => grant(`s${i}`, Array.from({ length: 50 }, (_, j) => `permission.${j}.${'x'.repeat(20)}`))));
  expect(big.length).toBeGreaterThan(1024);
  expect(source(1024).decode(big)).toEqual({ items: [], truncated: true });
  expect(source(big.length).decode(big).items).toHaveLength(10);
});
