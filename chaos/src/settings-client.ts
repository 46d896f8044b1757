import { credentials, status } from '@grpc/grpc-js';
import { AccountSettings, createSettingsClient, DoctorSettings, SettingsApiError, type SettingsClient } from '@settings/api';
import type { Observed, SettingsKey } from './keys';

/** One call's outcome. Failures carry the gRPC status name; the runner never throws on them. */
export type CallResult = { ok: true; value: Observed } | { ok: false; code: string; message: string };

export type ReadMode = 'default' | 'fully_consistent';

/**
 * The chaos suite's view of the settings service: Get and Update of account and doctor settings
 * through the @settings/api client, each call with a deadline (a call must never outlive a fault)
 * and no retries (the suite counts every failure a fault causes), reduced to what the comparison
 * needs (version from the etag, and display_name).
 */
export class SettingsCaller {
  private readonly client: SettingsClient;

  constructor(port: number) {
    this.client = createSettingsClient({
      address: `127.0.0.1:${port}`,
      credentials: credentials.createInsecure(),
      retry: { maxAttempts: 1 },
      channelOptions: {
        // Reconnect quickly after the service or the network hiccups instead of backing off for seconds.
        'grpc.initial_reconnect_backoff_ms': 100,
        'grpc.max_reconnect_backoff_ms': 1000,
      },
    });
  }

  get(key: SettingsKey, mode: ReadMode, deadlineMs: number): Promise<CallResult> {
    const consistency = mode === 'fully_consistent' ? { requirement: { $case: 'fullyConsistent' as const, value: true } } : undefined;
    const call = key.kind === 'account' ? this.client.getAccountSettings({ name: key.name, consistency }, { deadlineMs }) : this.client.getDoctorSettings({ name: key.name, consistency }, { deadlineMs });
    return outcome(call);
  }

  /** Sets display_name only (update mask), unconditionally: concurrent writers overwrite each other. */
  update(key: SettingsKey, displayName: string, deadlineMs: number): Promise<CallResult> {
    const call =
      key.kind === 'account'
        ? this.client.updateAccountSettings({ accountSettings: AccountSettings.fromPartial({ name: key.name, displayName }), updateMask: ['display_name'], allowMissing: true }, { deadlineMs })
        : this.client.updateDoctorSettings({ doctorSettings: DoctorSettings.fromPartial({ name: key.name, displayName }), updateMask: ['display_name'], allowMissing: true }, { deadlineMs });
    return outcome(call);
  }

  close(): void {
    this.client.close();
  }
}

async function outcome(call: Promise<AccountSettings | DoctorSettings>): Promise<CallResult> {
  try {
    const res = await call;
    return { ok: true, value: { version: res.etag, displayName: res.displayName } };
  } catch (err) {
    if (err instanceof SettingsApiError) return { ok: false, code: err.codeName, message: err.details };
    return { ok: false, code: 'UNKNOWN', message: err instanceof Error ? err.message : String(err) };
  }
}

/** `status` is a numeric enum: its reverse mapping gives the canonical name (UNAVAILABLE, …). */
export function statusName(code: number | undefined): string {
  if (code === undefined) return 'UNKNOWN';
  return (status as unknown as Record<number, string | undefined>)[code] ?? `CODE_${code}`;
}
