import { Role, StaffPermission } from '@settings/api';
import { db, deleteAccounts, expectError, mintToken, serverForTests, uniqueId } from '../support/test-server';

/** Every grant change leaves an audit row in the same transaction: who, what, before, after, when. */
const a = uniqueId();
const t = serverForTests();
afterAll(() => deleteAccounts([a]));

const audit = () => db('SELECT actor, action, before, after, at FROM staff_permission_audit WHERE account_id = $1 AND staff_id = $2 ORDER BY id', [a, 's-audit']);

it('records create, update and delete with the caller, and nothing for a rejected change', async () => {
  const parent = `accounts/${a}`;
  const admin = await mintToken({ sub: 'admin-portal', accounts: [a] });
  const hr = await mintToken({ sub: 'hr-sync', accounts: [a] });

  const created = await t.call('createStaffPermission', { parent, staffPermissionId: 's-audit', staffPermission: StaffPermission.fromPartial({ role: Role.ROLE_FRONT_DESK, permissions: ['appointments.write'] }) }, { token: admin });
  const updated = await t.call('updateStaffPermission', { staffPermission: StaffPermission.fromPartial({ name: created.name, role: Role.ROLE_BILLING, etag: created.etag }), updateMask: ['role'] }, { token: hr });
  // Stale etag: rolled back, so no audit row either.
  await expectError(() => t.call('updateStaffPermission', { staffPermission: StaffPermission.fromPartial({ name: created.name, disabled: true, etag: created.etag }) }, { token: hr }));
  await t.call('deleteStaffPermission', { name: created.name, etag: updated.etag }, { token: admin });

  const rows = await audit();
  expect(rows.map((r) => [r.actor, r.action])).toEqual([
    ['admin-portal', 'create'],
    ['hr-sync', 'update'],
    ['admin-portal', 'delete'],
  ]);
  const [c, u, d] = rows as Array<{ before: Record<string, unknown> | null; after: Record<string, unknown> | null; at: Date }>;
  expect(c!.before).toBeNull();
  expect(c!.after).toMatchObject({ account_id: a, staff_id: 's-audit', role: 'ROLE_FRONT_DESK', permissions: ['appointments.write'], disabled: false, version: created.etag });
  expect(u!.before).toMatchObject({ role: 'ROLE_FRONT_DESK', version: created.etag });
  expect(u!.after).toMatchObject({ role: 'ROLE_BILLING', version: updated.etag });
  expect(d!.before).toMatchObject({ role: 'ROLE_BILLING', version: updated.etag });
  expect(d!.after).toBeNull();
  for (const r of rows) expect(r.at).toBeInstanceOf(Date);
});

// README, Guarantees ("Audit"): the grant change and its audit row commit together or not at all.
it('a grant change whose audit row cannot be written is not saved either', async () => {
  const b = uniqueId();
  const token = await mintToken({ sub: 'admin-portal', accounts: [b] });
  const parent = `accounts/${b}`;
  const created = await t.call('createStaffPermission', { parent, staffPermissionId: 's-atomic', staffPermission: StaffPermission.fromPartial({ role: Role.ROLE_NURSE }) }, { token });
  // From now on PostgreSQL refuses this account's audit rows (a full disk, a broken constraint would too).
  const refuse = `refuse_audit_${b.replace(/[^a-z0-9]/g, '_')}`;
  await db(`CREATE FUNCTION ${refuse}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF NEW.account_id = '${b}' THEN RAISE EXCEPTION 'audit refused by the test'; END IF; RETURN NEW; END $$`);
  await db(`CREATE TRIGGER ${refuse} BEFORE INSERT ON staff_permission_audit FOR EACH ROW EXECUTE FUNCTION ${refuse}()`);
  try {
    await expectError(() => t.call('updateStaffPermission', { staffPermission: StaffPermission.fromPartial({ name: created.name, role: Role.ROLE_BILLING, etag: created.etag }), updateMask: ['role'] }, { token }));
    await expectError(() => t.call('createStaffPermission', { parent, staffPermissionId: 's-atomic-2', staffPermission: StaffPermission.fromPartial({ role: Role.ROLE_NURSE }) }, { token }));
    await expectError(() => t.call('deleteStaffPermission', { name: created.name, etag: created.etag }, { token }));
  } finally {
    await db(`DROP TRIGGER ${refuse} ON staff_permission_audit`);
    await db(`DROP FUNCTION ${refuse}()`);
  }
  // Nothing of the three changes was saved: the grant is as created, the second one does not exist.
  const rows = await db('SELECT staff_id, role, version::text AS version FROM staff_permissions WHERE account_id = $1 ORDER BY staff_id', [b]);
  expect(rows).toEqual([{ staff_id: 's-atomic', role: 'ROLE_NURSE', version: created.etag }]);
  await deleteAccounts([b]);
});
