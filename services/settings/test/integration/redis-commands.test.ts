import { createHash } from 'node:crypto';
import { AccountSettings, DoctorSettings, OnPatientSettings, Role, StaffPermission } from '@settings/api';
import { auditSamplesKey, FILL_LEASE_RELEASE_LUA, generationKey, KEY_SPACES, redisIncarnationKey, VERSIONED_FILL_LUA, type KeySpace } from '@settings/shared';
import { deleteAccounts, serverForTests, uniqueId } from '../support/test-server';

/**
 * The runtime half of the no-mutation rule (the source scan is the other): across every RPC,
 * the service sends Redis nothing but GETs and the versioned-fill script. Writes send nothing.
 * The only SETs allowed are the shared contract's, on fixed non-entry keys: creating a missing
 * generation (SET NX GET) and, after a reconnect to another server, renewing generations. The
 * only other write is XADD of sampled hits to the capped audit stream (every hit sampled here),
 * and fill leases: SET NX PX of a lease key (`v1:lease:...`, never an entry) and the
 * compare-and-delete release script on it. Lookups are one MGET of the generation and the entries.
 */
const contractKeys = new Set<unknown>([...(Object.keys(KEY_SPACES) as KeySpace[]).map(generationKey), redisIncarnationKey()]);
const a = uniqueId();
const sent: Array<{ name: string; args: unknown[] }> = [];
const t = serverForTests({ AUDIT_SAMPLE_EVERY: '1' });
beforeAll(async () => {
  const redis = t.running.redis as unknown as { sendCommand(cmd: { name: string; args: unknown[] }, ...rest: unknown[]): unknown };
  const original = redis.sendCommand.bind(redis);
  // Connection handshakes (after a reconnect) and the once-a-second PING of the connection's
  // heartbeat (redis-node-heartbeat.ts, whatever the calls do) touch no keys.
  const handshake = new Set(['client', 'info', 'hello', 'auth', 'select', 'ping']);
  redis.sendCommand = (cmd, ...rest) => {
    if (!handshake.has(cmd.name.toLowerCase())) sent.push({ name: cmd.name.toLowerCase(), args: cmd.args });
    return original(cmd, ...rest);
  };
});
afterAll(() => deleteAccounts([a]));

it('writes send no Redis command; reads send only GET, MGET, versioned-fill, contract-key SETs, fill-lease SET NX and release, and audit XADD', async () => {
  const parent = `accounts/${a}`;
  await t.call('updateAccountSettings', { accountSettings: AccountSettings.fromPartial({ name: `${parent}/settings`, displayName: 'x' }), allowMissing: true });
  await t.call('updateDoctorSettings', { doctorSettings: DoctorSettings.fromPartial({ name: `${parent}/doctors/d1/settings`, displayName: 'x' }), allowMissing: true });
  await t.call('updateOnPatientSettings', { onpatientSettings: OnPatientSettings.fromPartial({ name: `${parent}/onpatientSettings`, portalEnabled: true }), allowMissing: true });
  const grant = await t.call('createStaffPermission', { parent, staffPermissionId: 's1', staffPermission: StaffPermission.fromPartial({ role: Role.ROLE_ADMIN }) });
  const updated = await t.call('updateStaffPermission', { staffPermission: StaffPermission.fromPartial({ name: grant.name, disabled: true }) });
  await t.call('createStaffPermission', { parent, staffPermissionId: 's2', staffPermission: StaffPermission.fromPartial({ role: Role.ROLE_ADMIN }) });
  expect(sent).toEqual([]);

  for (let i = 0; i < 2; i++) {
    await t.call('getAccountSettings', { name: `${parent}/settings` });
    await t.call('batchGetAccountSettings', { names: [`${parent}/settings`] });
    await t.call('getDoctorSettings', { name: `${parent}/doctors/d1/settings` });
    await t.call('batchGetDoctorSettings', { parent, names: [`${parent}/doctors/d1/settings`] });
    await t.call('getOnPatientSettings', { name: `${parent}/onpatientSettings` });
    await t.call('batchGetOnPatientSettings', { names: [`${parent}/onpatientSettings`] });
    await t.call('getStaffPermission', { name: grant.name });
    await t.call('batchGetStaffPermissions', { parent, names: [grant.name] });
    await t.call('listStaffPermissions', { parent, pageSize: 1, pageToken: '' });
  }
  await t.call('deleteStaffPermission', { name: grant.name, etag: updated.etag });

  const fillSha = createHash('sha1').update(VERSIONED_FILL_LUA).digest('hex');
  const releaseSha = createHash('sha1').update(FILL_LEASE_RELEASE_LUA).digest('hex');
  const isLease = (c: { args: unknown[] }): boolean => typeof c.args[0] === 'string' && c.args[0].startsWith('v1:lease:{acct:');
  const leaseSets = sent.filter((c) => c.name === 'set' && isLease(c));
  expect(leaseSets.length).toBeGreaterThan(0);
  for (const c of leaseSets) expect([c.args[2], c.args[4]]).toEqual(['PX', 'NX']);
  const leaseReleases = sent.filter((c) => (c.name === 'evalsha' || c.name === 'eval') && [releaseSha, FILL_LEASE_RELEASE_LUA].includes(c.args[0] as string));
  for (const c of leaseReleases) expect(isLease({ args: [c.args[2]] })).toBe(true);
  const sets = sent.filter((c) => c.name === 'set' && !isLease(c));
  for (const c of sets) expect(contractKeys.has(c.args[0])).toBe(true);
  const xadds = sent.filter((c) => c.name === 'xadd');
  expect(xadds.length).toBeGreaterThan(0);
  for (const c of xadds) expect(c.args.slice(0, 3)).toEqual([auditSamplesKey(), 'MAXLEN', '~']);
  const names = new Set(sent.filter((c) => c.name !== 'set' && c.name !== 'xadd').map((c) => c.name));
  expect([...names].every((n) => ['get', 'mget', 'evalsha', 'eval'].includes(n))).toBe(true);
  // ioredis names the script by SHA or by text depending on its script cache; either way, only versioned-fill or the lease release.
  for (const c of sent.filter((x) => !['get', 'mget', 'set', 'xadd'].includes(x.name) && !leaseReleases.includes(x))) expect([fillSha, VERSIONED_FILL_LUA]).toContain(c.args[0]);
  expect(sent.some((c) => c.name === 'evalsha' || c.name === 'eval')).toBe(true);
});
