import { credentials, Metadata, type ServiceError } from '@grpc/grpc-js';
import { AccountSettings, GetAccountSettingsRequest, SettingsServiceClient, UpdateAccountSettingsRequest } from '@settings/api';

export const GET_ACCOUNT_SETTINGS_PATH = '/settings.v1.SettingsService/GetAccountSettings';
/** The method label of GetAccountSettings in the settings service's metrics. */
export const GET_ACCOUNT_SETTINGS_METHOD = 'GetAccountSettings';

/** gRPC length-prefixed message: 0x00 (uncompressed) + 4-byte big-endian length + bytes. */
export function grpcFrame(message: Uint8Array): Buffer {
  const out = Buffer.alloc(5 + message.length);
  out.writeUInt8(0, 0);
  out.writeUInt32BE(message.length, 1);
  Buffer.from(message.buffer, message.byteOffset, message.length).copy(out, 5);
  return out;
}

export const accountName = (accountId: string): string => `accounts/${accountId}/settings`;

export function getRequestBytes(accountId: string, fullyConsistent: boolean): Uint8Array {
  return GetAccountSettingsRequest.encode(
    GetAccountSettingsRequest.fromPartial({
      name: accountName(accountId),
      consistency: fullyConsistent ? { requirement: { $case: 'fullyConsistent', value: true } } : undefined,
    }),
  ).finish();
}

export function client(port: number): SettingsServiceClient {
  return new SettingsServiceClient(`127.0.0.1:${port}`, credentials.createInsecure(), {
    // One TCP connection per client object (no channel sharing between the harness's clients).
    'grpc.use_local_subchannel_pool': 1,
    'grpc.max_receive_message_length': 4 * 1024 * 1024,
  });
}

export interface CallOutcome<T> {
  ok: boolean;
  value?: T;
  code?: number;
  message?: string;
}

export function getAccount(c: SettingsServiceClient, accountId: string, deadlineMs: number, fullyConsistent = false, metadata = new Metadata()): Promise<CallOutcome<AccountSettings>> {
  const req = GetAccountSettingsRequest.fromPartial({
    name: accountName(accountId),
    consistency: fullyConsistent ? { requirement: { $case: 'fullyConsistent', value: true } } : undefined,
  });
  return new Promise((resolve) => {
    c.getAccountSettings(req, metadata, { deadline: Date.now() + deadlineMs }, (err: ServiceError | null, res: AccountSettings) =>
      resolve(err ? { ok: false, code: err.code, message: err.details } : { ok: true, value: res }),
    );
  });
}

export function updateDisplayName(c: SettingsServiceClient, accountId: string, displayName: string, deadlineMs: number, metadata = new Metadata()): Promise<CallOutcome<AccountSettings>> {
  const req = UpdateAccountSettingsRequest.fromPartial({
    accountSettings: { name: accountName(accountId), displayName },
    updateMask: ['display_name'],
    allowMissing: false,
  });
  return new Promise((resolve) => {
    c.updateAccountSettings(req, metadata, { deadline: Date.now() + deadlineMs }, (err: ServiceError | null, res: AccountSettings) =>
      resolve(err ? { ok: false, code: err.code, message: err.details } : { ok: true, value: res }),
    );
  });
}

export async function waitForChannel(c: SettingsServiceClient, timeoutMs = 10_000): Promise<void> {
  await new Promise<void>((resolve, reject) => c.waitForReady(Date.now() + timeoutMs, (err) => (err ? reject(err) : resolve())));
}
