// How another backend service calls the settings service: bearer token in call metadata and a
// read-your-writes read via `at_least_as_fresh`. Run: npx tsx packages/settings-api/src/example-caller.ts
import { credentials, Metadata, type ServiceError } from '@grpc/grpc-js';
import { AccountSettings, SettingsServiceClient } from './index';

export async function readAfterWrite(address: string, bearerToken: string, accountId: string): Promise<AccountSettings> {
  // Insecure only for the local stack; in a cluster use credentials.createSsl().
  const client = new SettingsServiceClient(address, credentials.createInsecure());
  const metadata = new Metadata();
  metadata.set('authorization', `Bearer ${bearerToken}`);
  const name = `accounts/${accountId}/settings`;
  try {
    const written = await new Promise<AccountSettings>((resolve, reject) =>
      client.updateAccountSettings(
        {
          // fromPartial fills the unset scalars; only masked fields are written anyway.
          accountSettings: AccountSettings.fromPartial({ name, timeZone: 'America/New_York' }),
          updateMask: ['time_zone'],
          allowMissing: true,
        },
        metadata,
        { deadline: Date.now() + 5_000 },
        (err: ServiceError | null, res: AccountSettings) => (err ? reject(err) : resolve(res)),
      ),
    );
    // Without the token a cached read could still return the old time zone for a moment.
    return await new Promise<AccountSettings>((resolve, reject) =>
      client.getAccountSettings(
        { name, consistency: { requirement: { $case: 'atLeastAsFresh', value: written.consistencyToken } } },
        metadata,
        { deadline: Date.now() + 5_000 },
        (err: ServiceError | null, res: AccountSettings) => (err ? reject(err) : resolve(res)),
      ),
    );
  } finally {
    client.close();
  }
}

if (require.main === module) {
  const [address = '127.0.0.1:50051', token = process.env.SETTINGS_TOKEN ?? '', account = 'demo'] = process.argv.slice(2);
  readAfterWrite(address, token, account).then(
    (settings) => console.log(AccountSettings.toJSON(settings)),
    (err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}
