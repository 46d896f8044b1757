import { credentials, Metadata, Server, ServerCredentials, status, type sendUnaryData, type ServerUnaryCall } from '@grpc/grpc-js';
import { AccountSettings, createSettingsClient, DoctorSettings, ErrorInfo, RetryInfo, SettingsApiError, Status, type SettingsClient, type SettingsClientOptions } from '../../src/index';
import { SettingsServiceService } from '../../src/gen/settings/v1/settings_service';

/**
 * The client against an in-process grpc-js server that answers UpdateAccountSettings the way the
 * settings service answers a save blocked by a row lock: ABORTED ROW_LOCKED with RetryInfo (not
 * applied, retry after the delay); GetAccountSettings the way an overloaded service answers a
 * read: UNAVAILABLE with a RetryInfo of 1 ms; GetDoctorSettings with the settings. What the
 * server receives is what counts.
 */
let server: Server;
let client: SettingsClient;
let address: string;
let saves = 0;
let reads = 0;
const RETRY_AFTER_MS = 300;
/** The RetryInfo delay of the next ROW_LOCKED answers; reset to RETRY_AFTER_MS before each test. */
let saveRetryAfterMs = RETRY_AFTER_MS;

function refusal(code: status, message: string, retryAfterMs: number, reason?: string): { code: status; details: string; metadata: Metadata } {
  const metadata = new Metadata();
  const details = [{ typeUrl: 'type.googleapis.com/google.rpc.RetryInfo', value: Buffer.from(RetryInfo.encode({ retryDelay: { seconds: 0, nanos: retryAfterMs * 1e6 } }).finish()) }];
  if (reason !== undefined) details.push({ typeUrl: 'type.googleapis.com/google.rpc.ErrorInfo', value: Buffer.from(ErrorInfo.encode({ reason, domain: 'settings.v1.SettingsService', metadata: {} }).finish()) });
  metadata.set('grpc-status-details-bin', Buffer.from(Status.encode({ code, message, details }).finish()));
  return { code, details: message, metadata };
}

beforeAll(async () => {
  server = new Server();
  const implementation: Record<string, unknown> = {
    updateAccountSettings: (_call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<AccountSettings>) => {
      saves += 1;
      callback(refusal(status.ABORTED, 'row locked', saveRetryAfterMs, 'ROW_LOCKED'));
    },
    getAccountSettings: (_call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<AccountSettings>) => {
      reads += 1;
      callback(refusal(status.UNAVAILABLE, 'load shed', 1));
    },
    getDoctorSettings: (call: ServerUnaryCall<{ name: string }, unknown>, callback: sendUnaryData<DoctorSettings>) => {
      callback(null, DoctorSettings.fromPartial({ name: call.request.name }));
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
  reads = 0;
  saveRetryAfterMs = RETRY_AFTER_MS;
});

const saveRequest = { accountSettings: AccountSettings.fromPartial({ name: 'accounts/a/settings' }), updateMask: ['time_zone'], allowMissing: false };
const save = (signal: AbortSignal) => client.updateAccountSettings(saveRequest, { signal });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A client of its own (its own retry budget, closed after `use`), warmed up before `use` runs
 * (connected, and one call made on the raw grpc client: the process's first call is slow, grpc-js
 * loading its code) so that an attempt takes about a millisecond.
 */
async function withClient(options: Partial<SettingsClientOptions>, use: (c: SettingsClient) => Promise<void>): Promise<void> {
  const c = createSettingsClient({ address, credentials: credentials.createInsecure(), deadlineMs: 5_000, ...options });
  try {
    await new Promise<void>((resolve, reject) => c.grpc.getDoctorSettings({ name: 'accounts/a/doctors/d/settings' }, (err) => (err ? reject(err) : resolve())));
    await use(c);
  } finally {
    c.close();
  }
}

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

describe('a retry is sent only with time left for it', () => {
  // 290 ms leaves 10 ms after the wait, 260 ms 40 ms: both less than an attempt's 50 ms floor, and
  // with 260 the old check ("the wait ends before the deadline") visibly lets the retry go.
  it.each([290, 260])('a save refused with RetryInfo %p ms and a 300 ms deadline is not retried: the caller gets ROW_LOCKED (not applied), not DEADLINE_EXCEEDED', async (retryAfterMs) => {
    saveRetryAfterMs = retryAfterMs;
    // No jitter: the wait is exactly the server's delay, which alone still ends before the deadline.
    const random = jest.spyOn(Math, 'random').mockReturnValue(0);
    try {
      await withClient({}, async (c) => {
        // One refused save first, so that the one measured is answered in a few ms.
        await c.updateAccountSettings(saveRequest, { retry: { maxAttempts: 1 } }).catch(() => undefined);
        saves = 0;
        const err = await c.updateAccountSettings(saveRequest, { deadlineMs: 300 }).catch((e: unknown) => e);
        expect(err).toMatchObject({ codeName: 'ABORTED', reason: 'ROW_LOCKED', retryDelayMs: retryAfterMs });
        expect(saves).toBe(1);
      });
    } finally {
      random.mockRestore();
    }
  });
});

describe('the retry budget', () => {
  it('50 sequential reads against a service always answering UNAVAILABLE (RetryInfo 1 ms) make far fewer than 50 x 4 attempts', async () => {
    await withClient({}, async (c) => {
      for (let i = 0; i < 50; i++) {
        expect(await c.getAccountSettings({ name: 'accounts/a/settings' }).catch((e: unknown) => e)).toMatchObject({ codeName: 'UNAVAILABLE' });
      }
    });
    // Without a budget every call makes maxAttempts (4) attempts: 200. With it: the first call's
    // 4 and the second's 2 take the bucket to half; every later call is sent once.
    expect(reads).toBeLessThan(100);
  });
});

describe('every failure is a SettingsApiError', () => {
  it('close() during a retry wait ends the wait at once: the call rejects with SettingsApiError CANCELLED and nothing more is sent', async () => {
    let result: Promise<unknown> | undefined;
    let closedAt = 0;
    await withClient({}, async (c) => {
      result = c.updateAccountSettings(saveRequest).catch((e: unknown) => e);
      // The server counts the save before the client has its answer; 50 ms later the client is
      // well inside its wait of at least 300 ms. (Closed before the answer arrives, the call
      // rejects with that answer, ABORTED ROW_LOCKED, without waiting.)
      while (saves === 0) await sleep(5);
      await sleep(50);
      closedAt = Date.now();
    });
    const err = await result;
    expect(Date.now() - closedAt).toBeLessThan(RETRY_AFTER_MS / 2);
    expect(err).toBeInstanceOf(SettingsApiError);
    expect(err).toMatchObject({ codeName: 'CANCELLED', details: 'the client was closed' });
    await sleep(2 * RETRY_AFTER_MS + 100);
    expect(saves).toBe(1);
  });

  it('a call made after close() rejects with SettingsApiError CANCELLED', async () => {
    let closed: SettingsClient | undefined;
    await withClient({}, async (c) => {
      closed = c;
    });
    const err = await closed!.getDoctorSettings({ name: 'accounts/a/doctors/d/settings' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SettingsApiError);
    expect(err).toMatchObject({ codeName: 'CANCELLED' });
  });

  it('grpc-js throwing synchronously when starting a call becomes SettingsApiError INTERNAL, the thrown error its cause', async () => {
    await withClient({}, async (c) => {
      const thrown = new Error('Incorrect arguments passed');
      const spy = jest.spyOn(c.grpc, 'makeUnaryRequest').mockImplementation(() => {
        throw thrown;
      });
      try {
        const err = await c.getDoctorSettings({ name: 'accounts/a/doctors/d/settings' }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(SettingsApiError);
        expect(err).toMatchObject({ codeName: 'INTERNAL', cause: { cause: thrown } });
      } finally {
        spy.mockRestore();
      }
    });
  });

  it('a token function that throws, rejects or returns an illegal header value fails the call with SettingsApiError UNAUTHENTICATED, nothing sent', async () => {
    const broken = new Error('token service down');
    const sources = [
      () => {
        throw broken;
      },
      () => Promise.reject(broken),
      () => 'line\nbreak',
    ];
    for (const token of sources) {
      await withClient({ token }, async (c) => {
        const err = await c.updateAccountSettings(saveRequest).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(SettingsApiError);
        expect(err).toMatchObject({ codeName: 'UNAUTHENTICATED' });
        // The token function's own error stays reachable.
        if (token !== sources[2]) expect(err).toMatchObject({ cause: { cause: broken } });
      });
    }
    expect(saves).toBe(0);
  });
});

describe('a deadline beyond setTimeout\'s range', () => {
  it.each([Infinity, 30 * 24 * 3600 * 1000])('deadlineMs %p with a token function that takes 20 ms: the call succeeds', async (deadlineMs) => {
    await withClient({ deadlineMs, token: () => sleep(20).then(() => 't') }, async (c) => {
      expect(await c.getDoctorSettings({ name: 'accounts/a/doctors/d/settings' })).toMatchObject({ name: 'accounts/a/doctors/d/settings' });
    });
  });
});
