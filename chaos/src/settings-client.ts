import { credentials, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import {
  AccountSettings,
  DoctorSettings,
  GetAccountSettingsRequest,
  GetDoctorSettingsRequest,
  SettingsServiceClient,
  UpdateAccountSettingsRequest,
  UpdateDoctorSettingsRequest,
} from '@settings/api';
import type { Observed, SettingsKey } from './keys';

/** One call's outcome. Failures carry the gRPC status name; the runner never throws on them. */
export type CallResult = { ok: true; value: Observed } | { ok: false; code: string; message: string };

export type ReadMode = 'default' | 'fully_consistent';

/**
 * The chaos suite's view of the settings service: Get and Update of account and doctor settings
 * through the generated client, each call with a deadline (a call must never outlive a fault),
 * reduced to what the comparison needs (version from the etag, and display_name).
 */
export class SettingsCaller {
  private readonly client: SettingsServiceClient;

  constructor(port: number) {
    this.client = new SettingsServiceClient(`127.0.0.1:${port}`, credentials.createInsecure(), {
      // Reconnect quickly after the service or the network hiccups instead of backing off for seconds.
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': 1000,
    });
  }

  get(key: SettingsKey, mode: ReadMode, deadlineMs: number): Promise<CallResult> {
    const consistency = mode === 'fully_consistent' ? { requirement: { $case: 'fullyConsistent' as const, value: true } } : undefined;
    const options = { deadline: Date.now() + deadlineMs };
    if (key.kind === 'account') {
      const req = GetAccountSettingsRequest.fromPartial({ name: key.name, consistency });
      return new Promise((resolve) => this.client.getAccountSettings(req, new Metadata(), options, (err, res) => resolve(outcome(err, res))));
    }
    const req = GetDoctorSettingsRequest.fromPartial({ name: key.name, consistency });
    return new Promise((resolve) => this.client.getDoctorSettings(req, new Metadata(), options, (err, res) => resolve(outcome(err, res))));
  }

  /** Sets display_name only (update mask), unconditionally: concurrent writers overwrite each other. */
  update(key: SettingsKey, displayName: string, deadlineMs: number): Promise<CallResult> {
    const options = { deadline: Date.now() + deadlineMs };
    if (key.kind === 'account') {
      const req = UpdateAccountSettingsRequest.fromPartial({ accountSettings: { name: key.name, displayName }, updateMask: ['display_name'] });
      return new Promise((resolve) => this.client.updateAccountSettings(req, new Metadata(), options, (err, res) => resolve(outcome(err, res))));
    }
    const req = UpdateDoctorSettingsRequest.fromPartial({ doctorSettings: { name: key.name, displayName }, updateMask: ['display_name'] });
    return new Promise((resolve) => this.client.updateDoctorSettings(req, new Metadata(), options, (err, res) => resolve(outcome(err, res))));
  }

  close(): void {
    this.client.close();
  }
}

function outcome(err: ServiceError | null, res: AccountSettings | DoctorSettings | undefined): CallResult {
  if (err || !res) return { ok: false, code: statusName(err?.code), message: err?.details ?? 'no response' };
  return { ok: true, value: { version: res.etag, displayName: res.displayName } };
}

/** `status` is a numeric enum: its reverse mapping gives the canonical name (UNAVAILABLE, …). */
export function statusName(code: number | undefined): string {
  if (code === undefined) return 'UNKNOWN';
  return (status as unknown as Record<number, string | undefined>)[code] ?? `CODE_${code}`;
}
