// How a backend service keeps some settings in memory without polling and without a TTL: a
// SettingsWatch holds the current state of each name, updated by the service's push stream, and
// resumes after any interruption without missing a change. The README of this package shows this
// file; services/invalidator/test/integration/watch-end-to-end.test.ts runs it against the real
// pipeline (psql and gRPC writes, Debezium, the invalidator).
// Run against `npm start`: npx tsx packages/settings-api/src/example-watcher.ts 127.0.0.1:50051 "$(npm run -s token -- --account demo)" demo
import { credentials } from '@grpc/grpc-js';
import { createSettingsClient, watchSettings, type SettingsWatch } from './index';

export async function clinicSettingsCache(address: string, token: string | (() => string), accountId: string): Promise<{ watch: SettingsWatch; timeZone(): string | undefined; grants(): string[]; close(): void }> {
  const client = createSettingsClient({ address, token, credentials: credentials.createInsecure() });
  const settingsName = `accounts/${accountId}/settings`;
  const staffName = `accounts/${accountId}`; // every staff permission of the account
  const watch = watchSettings(client, { names: [settingsName, staffName], token });
  watch.onChange((name, value) => console.log(`changed: ${name} (${value.kind})`));
  watch.onError((err) => console.error(`watch stopped: ${err.codeName} ${err.reason ?? ''} ${err.message}`));
  await watch.ready(); // the current state of both names has arrived
  return {
    watch,
    // Plain map lookups: no network call, always the latest state the service pushed.
    timeZone: () => {
      const v = watch.get(settingsName);
      return v?.kind === 'accountSettings' ? v.value.timeZone : undefined;
    },
    grants: () => {
      const v = watch.get(staffName);
      return v?.kind === 'staffPermissions' ? [...v.value.keys()].sort() : [];
    },
    close: () => {
      watch.close();
      client.close();
    },
  };
}

if (require.main === module) {
  const [address = '127.0.0.1:50051', token = '', account = 'demo'] = process.argv.slice(2);
  void clinicSettingsCache(address, token, account).then((c) => {
    console.log(`time zone ${c.timeZone() ?? '(none)'}, grants ${c.grants().join(', ') || '(none)'}; watching, Ctrl-C to stop`);
  });
}
