import { credentials, Metadata, Server, ServerCredentials, status, type sendUnaryData, type ServerUnaryCall } from '@grpc/grpc-js';
import { AccountSettings, createSettingsClient, RetryInfo, Status, type SettingsClient } from '../../src/index';
import { SettingsServiceService } from '../../src/gen/settings/v1/settings_service';

/**
 * The client against an in-process grpc-js server that answers UpdateAccountSettings the way the
 * settings service answers a save blocked by a row lock: ABORTED with RetryInfo (not applied,
 * retry after the delay). What the server receives is what counts.
 */
let server: Server;
let client: SettingsClient;
let address: string;
let saves = 0;
const RETRY_AFTER_MS = 300;

beforeAll(async () => {
  server = new Server();
  const implementation: Record<string, unknown> = {
    updateAccountSettings: (_call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<AccountSettings>) => {
      saves += 1;
      const metadata = new Metadata();
      const details = [{ typeUrl: 'type.googleapis.com/google.rpc.RetryInfo', value: Buffer.from(RetryInfo.encode({ retryDelay: { seconds: 0, nanos: RETRY_AFTER_MS * 1e6 } }).finish()) }];
      metadata.set('grpc-status-details-bin', Buffer.from(Status.encode({ code: status.ABORTED, message: 'row locked', details }).finish()));
      callback({ code: status.ABORTED, details: 'row locked', metadata });
    },
  };
  server.addService(SettingsServiceService, implementation as never);
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
  address = `127.0.0.1:${port}`;
  client = createSettingsClient({ address, credentials: credentials.createInsecure(), deadlineMs: 5_000 });
});
afterAll(() => {
  client.close();
  server.forceShutdown();
});
beforeEach(() => {
  saves = 0;
});

const save = (signal: AbortSignal) => client.updateAccountSettings({ accountSettings: AccountSettings.fromPartial({ name: 'accounts/a/settings' }), updateMask: ['time_zone'], allowMissing: false }, { signal });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('a cancelled call is never sent', () => {
  it('a save cancelled while waiting to retry is not sent again (the caller was told CANCELLED)', async () => {
    const controller = new AbortController();
    const result = save(controller.signal).catch((e: unknown) => e);
    // The first attempt was refused; the client waits 300 ms to retry. (Polled, not slept: the
    // first call of the file also connects, which can take longer than any fixed sleep under load.)
    while (saves === 0) await sleep(5);
    controller.abort();
    expect(await result).toMatchObject({ codeName: 'CANCELLED' });
    await sleep(RETRY_AFTER_MS + 100);
    expect(saves).toBe(1);
  });

  it('a save whose signal is already aborted is not sent at all', async () => {
    const controller = new AbortController();
    controller.abort();
    expect(await save(controller.signal).catch((e: unknown) => e)).toMatchObject({ codeName: 'CANCELLED' });
    await sleep(100);
    expect(saves).toBe(0);
  });
});

describe('a token source that hangs', () => {
  it('fails the call at its deadline (DEADLINE_EXCEEDED) or when the caller aborts (CANCELLED), and nothing is sent', async () => {
    const hanging = createSettingsClient({ address, credentials: credentials.createInsecure(), deadlineMs: 200, token: () => new Promise<string>(() => undefined) });
    try {
      const started = Date.now();
      const request = { accountSettings: AccountSettings.fromPartial({ name: 'accounts/a/settings' }), updateMask: ['time_zone'], allowMissing: false };
      expect(await hanging.updateAccountSettings(request).catch((e: unknown) => e)).toMatchObject({ codeName: 'DEADLINE_EXCEEDED' });
      expect(Date.now() - started).toBeLessThan(2000);
      const controller = new AbortController();
      const aborted = hanging.updateAccountSettings(request, { signal: controller.signal, deadlineMs: 60_000 }).catch((e: unknown) => e);
      controller.abort();
      expect(await aborted).toMatchObject({ codeName: 'CANCELLED' });
      expect(saves).toBe(0);
    } finally {
      hanging.close();
    }
  });
});
