import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { AccountSettings, StaffPermission, UpdateAccountSettingsRequest, UpdateStaffPermissionRequest } from '@settings/api';
import { accountsDeletedAfterAll, decodeError, metricValue, serverForTests, type DecodedError } from '../support/test-server';

/**
 * Issue 14: a valid protobuf whose int64 (here google.protobuf.Timestamp.seconds) is beyond
 * JavaScript's safe integers used to fail with INTERNAL "Error deserializing request" (the
 * generated decoder throws). It is the caller's input: INVALID_ARGUMENT naming the field.
 */
const t = serverForTests();
const newAccount = accountsDeletedAfterAll();

/** `valid` encoded, followed by `outer { update_time(50) { seconds(1): seconds } }`: protobuf merges repeated messages. */
function withUpdateTimeSeconds(valid: { finish(): Uint8Array; uint32(v: number): unknown }, outerField: number, seconds: bigint): Buffer {
  const writer = valid as unknown as Writer;
  writer.uint32((outerField << 3) | 2).fork();
  writer.uint32((50 << 3) | 2).fork();
  writer.uint32(1 << 3).int64(seconds);
  writer.join().join();
  return Buffer.from(writer.finish());
}

/** The @bufbuild/protobuf BinaryWriter the generated `encode` returns (not a dependency of this package). */
interface Writer {
  uint32(v: number): Writer;
  int64(v: bigint): Writer;
  fork(): Writer;
  join(): Writer;
  finish(): Uint8Array;
}

function rawCall(path: string, bytes: Buffer): Promise<DecodedError> {
  const metadata = new Metadata();
  metadata.set('authorization', `Bearer ${t.token}`);
  return new Promise((resolve, reject) =>
    t.client.makeUnaryRequest(
      path,
      (b: Buffer) => b,
      (b: Buffer) => b,
      bytes,
      metadata,
      { deadline: Date.now() + 10_000 },
      (err: ServiceError | null) => (err ? resolve(decodeError(err)) : reject(new Error('expected the call to fail'))),
    ),
  );
}

it.each([
  ['above', 2n ** 60n],
  ['below', -(2n ** 60n)],
])('UpdateAccountSettings with update_time.seconds %s the safe range is INVALID_ARGUMENT naming the field', async (_, seconds) => {
  const a = newAccount();
  const valid = UpdateAccountSettingsRequest.encode({ accountSettings: AccountSettings.fromPartial({ name: `accounts/${a}/settings`, displayName: 'x' }), updateMask: ['display_name'], allowMissing: true });
  const before = await metricValue(t.running, 'settings_grpc_requests_total', { method: 'UpdateAccountSettings', code: 'INVALID_ARGUMENT' });
  const err = await rawCall('/settings.v1.SettingsService/UpdateAccountSettings', withUpdateTimeSeconds(valid, 1, seconds));
  expect(status[err.code]).toBe('INVALID_ARGUMENT');
  expect(err.fieldViolations).toEqual([{ field: 'account_settings.update_time.seconds', description: expect.stringContaining(`${seconds} is out of range`) }]);
  // It went through the normal call path: counted like every other rejected call.
  expect(await metricValue(t.running, 'settings_grpc_requests_total', { method: 'UpdateAccountSettings', code: 'INVALID_ARGUMENT' })).toBe(before + 1);
});

it('UpdateStaffPermission with an out-of-range update_time is INVALID_ARGUMENT naming the field', async () => {
  const a = newAccount();
  const valid = UpdateStaffPermissionRequest.encode({ staffPermission: StaffPermission.fromPartial({ name: `accounts/${a}/staffPermissions/s1` }), updateMask: ['role'] });
  const err = await rawCall('/settings.v1.SettingsService/UpdateStaffPermission', withUpdateTimeSeconds(valid, 1, 2n ** 63n - 1n));
  expect(status[err.code]).toBe('INVALID_ARGUMENT');
  expect(err.fieldViolations.map((v) => v.field)).toEqual(['staff_permission.update_time.seconds']);
});

it('bytes that are not protobuf at all are INVALID_ARGUMENT too, not INTERNAL', async () => {
  // Field 1, length-delimited, claims 100 bytes but the message ends.
  const err = await rawCall('/settings.v1.SettingsService/GetAccountSettings', Buffer.from([0x0a, 100, 0x61]));
  expect(status[err.code]).toBe('INVALID_ARGUMENT');
  expect(err.message).toMatch(/^request is not a valid settings\.v1\.GetAccountSettingsRequest message/);
  // Like every INVALID_ARGUMENT, with a BadRequest: the field is not known, so the request.
  expect(err.fieldViolations).toEqual([{ field: 'request', description: expect.stringContaining('not a valid settings.v1.GetAccountSettingsRequest message') }]);
});

it('a string field that is not UTF-8 is INVALID_ARGUMENT, never stored with replacement characters', async () => {
  const a = newAccount();
  const name = `accounts/${a}/settings`;
  // display_name "Café" in Latin-1 (0xE9 alone is not UTF-8), as a caller with the wrong encoding sends it.
  const latin1 = Buffer.from('Caf\xe9', 'latin1');
  const valid = Buffer.from(UpdateAccountSettingsRequest.encode({ accountSettings: AccountSettings.fromPartial({ name }), updateMask: ['display_name'], allowMissing: true }).finish());
  // Merged into account_settings (field 1): its display_name (field 2), length-delimited.
  const displayName = Buffer.concat([Buffer.from([(2 << 3) | 2, latin1.length]), latin1]);
  const bytes = Buffer.concat([valid, Buffer.from([(1 << 3) | 2, displayName.length]), displayName]);
  const err = await rawCall('/settings.v1.SettingsService/UpdateAccountSettings', bytes);
  expect(status[err.code]).toBe('INVALID_ARGUMENT');
  expect(err.fieldViolations.map((v) => v.field)).toEqual(['request']);
  expect(await t.call('getAccountSettings', { name }).catch((e: unknown) => status[decodeError(e).code])).toBe('NOT_FOUND');
});

it('an unauthenticated caller is told UNAUTHENTICATED first, whatever the bytes', async () => {
  const metadata = new Metadata();
  const err = await new Promise<DecodedError>((resolve) =>
    t.client.makeUnaryRequest('/settings.v1.SettingsService/GetAccountSettings', (b: Buffer) => b, (b: Buffer) => b, Buffer.from([0x0a, 100]), metadata, { deadline: Date.now() + 10_000 }, (e) => resolve(decodeError(e))),
  );
  expect(status[err.code]).toBe('UNAUTHENTICATED');
});
