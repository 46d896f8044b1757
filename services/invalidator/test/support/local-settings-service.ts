import { credentials } from '@grpc/grpc-js';
import { AccountSettings, SettingsServiceClient, type GetAccountSettingsRequest, type UpdateAccountSettingsRequest } from '@settings/api';
import { cacheKeys, createLogger } from '@settings/shared';
import { uniqueId } from '@settings/local-stack';
import { sql } from './test-invalidator';
import { loadSettingsConfig, startSettingsServer, type RunningSettingsServer, type StartOptions } from '@settings/settings-service';

/**
 * A settings service in this process against the local stack (no authentication), for the
 * invalidator's end-to-end tests: write through gRPC, read through the cache, and the cleanup of
 * the accounts a test created.
 */
export interface LocalSettingsService {
  readonly server: RunningSettingsServer;
  update(req: UpdateAccountSettingsRequest): Promise<AccountSettings>;
  get(req: GetAccountSettingsRequest): Promise<AccountSettings>;
  /** Creates account settings (deleted again by stop()) and names its cache key. */
  newAccount(displayName: string): Promise<{ account: string; name: string; key: string }>;
  /** Stops the server and deletes the accounts newAccount created. */
  stop(): Promise<void>;
}

export async function startLocalSettingsService(overrides: Record<string, string> = {}, options: StartOptions = {}): Promise<LocalSettingsService> {
  const server = await startSettingsServer(
    loadSettingsConfig({ SETTINGS_LOCAL_STACK: '1', AUTH_MODE: 'insecure-dev', GRPC_HOST: '127.0.0.1', GRPC_PORT: '0', METRICS_PORT: '0', LOG_LEVEL: 'warn', ...overrides }),
    createLogger('e2e-settings', 'warn'),
    options,
  );
  const client = new SettingsServiceClient(`127.0.0.1:${server.port}`, credentials.createInsecure());
  const accounts: string[] = [];
  const update = (req: UpdateAccountSettingsRequest): Promise<AccountSettings> =>
    new Promise((resolve, reject) => client.updateAccountSettings(req, (err, res) => (err ? reject(err) : resolve(res))));
  return {
    server,
    update,
    get: (req) => new Promise((resolve, reject) => client.getAccountSettings(req, (err, res) => (err ? reject(err) : resolve(res)))),
    async newAccount(displayName) {
      const account = uniqueId();
      accounts.push(account);
      const name = `accounts/${account}/settings`;
      await update({ accountSettings: AccountSettings.fromPartial({ name, displayName }), updateMask: ['display_name'], allowMissing: true });
      return { account, name, key: cacheKeys.accountSettings(account).key };
    },
    async stop() {
      client.close();
      await server.stop();
      if (accounts.length) await sql('DELETE FROM account_settings WHERE account_id = ANY($1::text[])', [accounts]);
    },
  };
}
