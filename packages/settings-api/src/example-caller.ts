// How another backend service calls the settings service: the promise client with a bearer
// token, a masked write, and a read-your-writes read via `at_least_as_fresh`; a stale etag is a
// SettingsApiError with reason ETAG_MISMATCH. The README of this package shows this file, and
// services/settings/test/integration/settings-client.test.ts runs it against a real service.
// Run against `npm start`: npx tsx packages/settings-api/src/example-caller.ts 127.0.0.1:50051 "$(npm run -s token -- --account demo --scope 'settings.read settings.write')" demo
import { credentials } from '@grpc/grpc-js';
import { AccountSettings, createSettingsClient, SettingsApiError } from './index';

export async function readAfterWrite(address: string, token: string, accountId: string): Promise<AccountSettings> {
  const settings = createSettingsClient({
    address,
    token, // or a function returning the current token: () => tokenCache.get()
    credentials: credentials.createInsecure(), // the local stack; omit in a cluster (TLS)
    deadlineMs: 5_000, // every call, retries included; the server bounds its work by it
  });
  const name = `accounts/${accountId}/settings`;
  try {
    const written = await settings.updateAccountSettings({
      // fromPartial fills the unset scalars; only masked fields are written anyway.
      accountSettings: AccountSettings.fromPartial({ name, timeZone: 'America/New_York' }),
      updateMask: ['time_zone'],
      allowMissing: true,
    });
    try {
      // A write conditional on an etag older than `written` is refused, not applied.
      await settings.updateAccountSettings({ accountSettings: AccountSettings.fromPartial({ name, displayName: 'stale', etag: '1' }), updateMask: ['display_name'], allowMissing: false });
    } catch (err) {
      if (!(err instanceof SettingsApiError) || err.reason !== 'ETAG_MISMATCH') throw err;
    }
    // Without the token a cached read could still return the old time zone for a moment.
    return await settings.getAccountSettings({ name, consistency: { requirement: { $case: 'atLeastAsFresh', value: written.consistencyToken } } });
  } finally {
    settings.close();
  }
}

if (require.main === module) {
  const [address = '127.0.0.1:50051', token = process.env.SETTINGS_TOKEN ?? '', account = 'demo'] = process.argv.slice(2);
  readAfterWrite(address, token, account).then(
    (settings) => console.log(JSON.stringify(AccountSettings.toJSON(settings))),
    (err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}
