import Redis from 'ioredis';
import { Metadata, type ClientReadableStream, type ServiceError } from '@grpc/grpc-js';
import { AccountSettings, Role, SettingsServiceService, StaffPermission, type WatchSettingsResponse, type WatchTarget } from '@settings/api';
import { cacheKeys, generationKey, localRedisUrl, newGeneration, parseCacheValue, withCacheScripts } from '@settings/shared';
import { accountsDeletedAfterAll, db, decodeError, metricValue, mintToken, serverForTests, startTestServer, type DecodedError, type TestServer } from '../support/test-server';
import { withTrackingHeldOff } from '../support/tracking-held-off';

/**
 * WatchSettings against the real stack: the stream sends the current state, then every change
 * Redis reports for a watched key (here: the invalidator's marker, written with its own script
 * after a psql or gRPC change, as the invalidator does), resumes without a gap, coalesces,
 * ends on token expiry and shutdown, and enforces its limits. One upstream read per change per
 * replica, whatever the number of watchers.
 */
const admin = withCacheScripts(new Redis(localRedisUrl, { maxRetriesPerRequest: 1 }));
const newAccount = accountsDeletedAfterAll();
afterAll(() => admin.disconnect());
const RESUME_HOLD_MS = 1500;
const t = serverForTests({ WATCH_MAX_STREAMS_PER_CALLER: '3', WATCH_PROGRESS_INTERVAL_MS: '300', WATCH_RESUME_HOLD_MS: String(RESUME_HOLD_MS) });

interface OpenWatch {
  readonly messages: WatchSettingsResponse[];
  /** Resolves with the first message (from `from` on) that `pred` accepts. */
  next(pred: (m: WatchSettingsResponse) => boolean, timeoutMs?: number, from?: number): Promise<WatchSettingsResponse>;
  /** The status the stream ended with. */
  readonly ended: Promise<DecodedError>;
  cancel(): void;
  /** Stops reading (HTTP/2 flow control then stops the server's writes), and starts again. */
  pause(): void;
  resume(): void;
}

function openWatch(server: TestServer, targets: Array<Partial<WatchTarget> & { name: string }>, token: string | null = server.token): OpenWatch {
  const def = SettingsServiceService.watchSettings;
  const metadata = new Metadata();
  if (token !== null) metadata.set('authorization', `Bearer ${token}`);
  const stream: ClientReadableStream<WatchSettingsResponse> = server.client.makeServerStreamRequest(
    def.path,
    def.requestSerialize,
    def.responseDeserialize,
    { targets: targets.map((x) => ({ resumeToken: '', ...x })) },
    metadata,
    {},
  );
  const messages: WatchSettingsResponse[] = [];
  const waiters = new Set<() => void>();
  stream.on('data', (m: WatchSettingsResponse) => {
    messages.push(m);
    for (const w of [...waiters]) w();
  });
  const ended = new Promise<DecodedError>((resolve) => {
    stream.on('error', (err: ServiceError) => resolve(decodeError(err)));
    stream.on('status', (s: { code: number; details: string }) => {
      if (s.code === 0) resolve({ code: 0, message: s.details, fieldViolations: [] });
    });
  });
  ended.catch(() => undefined);
  return {
    messages,
    ended,
    cancel: () => stream.cancel(),
    pause: () => void stream.pause(),
    resume: () => void stream.resume(),
    next(pred, timeoutMs = 5000, from = 0) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const found = messages.slice(from).find(pred);
          if (found) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve(found);
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no matching watch message within ${timeoutMs} ms; got ${JSON.stringify(messages.map((m) => m.event?.$case))}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
  };
}

const change = (m: WatchSettingsResponse) => (m.event?.$case === 'change' ? m.event.value : undefined);
const isChange = (name: string, version?: string) => (m: WatchSettingsResponse) => change(m)?.name === name && (version === undefined || change(m)?.resumeToken === version);
const isProgress = (m: WatchSettingsResponse) => m.event?.$case === 'progress';

/**
 * What the invalidator does after a committed change: a marker at the row's version. Its 0
 * ("nothing needed") is right too when the key already holds this version or a newer one: the
 * watch's re-read after the previous change can read the new row and fill it between the UPDATE
 * and this call (seen on a loaded machine).
 */
async function mark(key: string, version: string | bigint): Promise<void> {
  if ((await admin.evictToMarker(key, String(version), 60_000)) === 1) return;
  const held = parseCacheValue(await admin.getBuffer(key));
  expect(held?.kind === 'entry' && held.version >= BigInt(version)).toBe(true);
}

async function seeded(displayName: string): Promise<{ account: string; name: string; key: string; version: string }> {
  const account = newAccount();
  const name = `accounts/${account}/settings`;
  const written = await t.call('updateAccountSettings', { accountSettings: AccountSettings.fromPartial({ name, displayName }), allowMissing: true });
  return { account, name, key: cacheKeys.accountSettings(account).key, version: written.etag };
}

beforeAll(async () => {
  expect(await t.running.nearCache!.tracking.waitOn(5000)).toBe(true);
});

it('sends the current state first, then each change Redis reports (a psql UPDATE and its marker), with bookmarks while idle', async () => {
  const s = await seeded('first');
  const w = openWatch(t, [{ name: s.name }]);
  const first = change(await w.next(isChange(s.name)))!;
  expect(first).toMatchObject({ fullState: true, missing: false, resumeToken: s.version });
  expect(first.value?.$case === 'accountSettings' && first.value.value.displayName).toBe('first');
  await w.next(isProgress, 3000);

  const [row] = await db('UPDATE account_settings SET display_name = $2 WHERE account_id = $1 RETURNING version', [s.account, 'from psql']);
  await mark(s.key, row!.version as string);
  const second = change(await w.next(isChange(s.name, String(row!.version))))!;
  expect(second.value?.$case === 'accountSettings' && second.value.value.displayName).toBe('from psql');
  w.cancel();
});

it('resumes without a gap: a caller that is current gets a bookmark, one that missed a change gets the current state, never an older one', async () => {
  const s = await seeded('v1');
  const current = openWatch(t, [{ name: s.name, resumeToken: s.version }]);
  const firstOfCurrent = await current.next(() => true);
  expect(firstOfCurrent.event?.$case).toBe('progress');
  current.cancel();

  const updated = await t.call('updateAccountSettings', { accountSettings: AccountSettings.fromPartial({ name: s.name, displayName: 'v2' }), updateMask: ['display_name'], allowMissing: false });
  await mark(s.key, updated.etag);
  const behind = openWatch(t, [{ name: s.name, resumeToken: s.version }]);
  const got = change(await behind.next(isChange(s.name)))!;
  expect(got).toMatchObject({ resumeToken: updated.etag, fullState: true });
  expect(got.value?.$case === 'accountSettings' && got.value.value.displayName).toBe('v2');
  behind.cancel();
});

it('a resume on a replica that has not heard of the caller\'s change yet sends nothing, not even a bookmark, until it has: then a bookmark, never the older state', async () => {
  const s = await seeded('v1');
  // This replica already watches the key, at v1.
  const holder = openWatch(t, [{ name: s.name }]);
  await holder.next(isChange(s.name, s.version));
  // The caller saw v2 (its own save, or a stream on a replica that heard of it) and resumes here,
  // where v2's marker has not arrived: the key's topic still holds v1.
  const updated = await t.call('updateAccountSettings', { accountSettings: AccountSettings.fromPartial({ name: s.name, displayName: 'v2' }), updateMask: ['display_name'], allowMissing: false });
  const resumed = openWatch(t, [{ name: s.name, resumeToken: updated.etag }]);
  const holdsBefore = await metricValue(t.running, 'settings_watch_resume_holds_total', { outcome: 'caught_up' });
  // Several bookmark intervals (300 ms): none may claim the caller is current, and v1 is never sent.
  await new Promise((r) => setTimeout(r, 1000));
  expect(resumed.messages).toEqual([]);
  await mark(s.key, updated.etag);
  expect((await resumed.next(() => true)).event?.$case).toBe('progress');
  await holder.next(isChange(s.name, updated.etag));
  expect(resumed.messages.filter(isChange(s.name))).toEqual([]);
  expect(await metricValue(t.running, 'settings_watch_resume_holds_total', { outcome: 'caught_up' })).toBe(holdsBefore + 1);
  holder.cancel();
  resumed.cancel();
});

it('a resume token ahead of every version (from before a database restore) gets this replica\'s state after WATCH_RESUME_HOLD_MS', async () => {
  const s = await seeded('current');
  const openedAt = Date.now();
  const w = openWatch(t, [{ name: s.name, resumeToken: String(BigInt(s.version) + 1_000_000n) }]);
  const got = change(await w.next(isChange(s.name), RESUME_HOLD_MS + 5000))!;
  expect(Date.now() - openedAt).toBeGreaterThanOrEqual(RESUME_HOLD_MS - 50);
  expect(got).toMatchObject({ resumeToken: s.version, fullState: true });
  w.cancel();
});

it('streams per-grant creates, updates and deletes of an account\'s staff permissions', async () => {
  const account = newAccount();
  const parent = `accounts/${account}`;
  const listKey = cacheKeys.staffPermissionList(account).key;
  const listVersion = async (): Promise<string> => String((await db('SELECT version FROM staff_permission_lists WHERE account_id = $1', [account]))[0]?.version ?? '0');
  await t.call('createStaffPermission', { parent, staffPermissionId: 's1', staffPermission: StaffPermission.fromPartial({ role: Role.ROLE_ADMIN }) });
  const w = openWatch(t, [{ name: parent }]);
  const first = change(await w.next(isChange(parent)))!;
  expect(first.fullState).toBe(true);
  expect(first.value?.$case === 'staffPermissions' && first.value.value.upserted.map((g) => g.name)).toEqual([`${parent}/staffPermissions/s1`]);

  await t.call('createStaffPermission', { parent, staffPermissionId: 's2', staffPermission: StaffPermission.fromPartial({ role: Role.ROLE_ADMIN }) });
  await mark(listKey, await listVersion());
  const created = change(await w.next((m) => isChange(parent)(m) && change(m)!.fullState === false))!;
  expect(created.value?.$case === 'staffPermissions' && created.value.value).toMatchObject({ upserted: [{ name: `${parent}/staffPermissions/s2` }], deleted: [] });

  const seen = w.messages.length;
  await t.call('deleteStaffPermission', { name: `${parent}/staffPermissions/s1`, etag: '' });
  await mark(listKey, await listVersion());
  const deleted = change(await w.next((m) => isChange(parent)(m) && change(m)!.fullState === false, 5000, seen))!;
  expect(deleted.value?.$case === 'staffPermissions' && deleted.value.value).toEqual({ upserted: [], deleted: [`${parent}/staffPermissions/s1`] });
  w.cancel();
});

it('reads a change once per replica however many watch it (at most three cache lookups and one PostgreSQL query for 20 watchers)', async () => {
  const s = await seeded('fan-out');
  // 20 streams of one caller would exceed its limit of 3: 20 callers.
  const tokens = await Promise.all(Array.from({ length: 20 }, (_, i) => mintToken({ sub: `fan-out-${i}` })));
  const open = tokens.map((tok) => openWatch(t, [{ name: s.name }], tok));
  await Promise.all(open.map((w) => w.next(isChange(s.name))));
  const queries = (): Promise<number> => metricValue(t.running, 'settings_db_queries_total');
  // Concurrent loads would be coalesced anyway (single-flight): count the cache lookups too.
  const lookups = (): Promise<number> => metricValue(t.running, 'settings_cache_requests_total', { space: 'account-settings' });
  const before = await queries();
  const lookupsBefore = await lookups();
  const [row] = await db('UPDATE account_settings SET display_name = $2 WHERE account_id = $1 RETURNING version', [s.account, 'fanned']);
  await mark(s.key, row!.version as string);
  await Promise.all(open.map((w) => w.next(isChange(s.name, String(row!.version)))));
  // A handful of lookups, not one per watcher: the re-read after the marker (a miss, then the
  // load and its fill) and the one the fill's own push causes (a hit at the same version, so
  // nothing more is sent); pushes that arrive during a read fold into one more.
  const d = { queries: (await queries()) - before, lookups: (await lookups()) - lookupsBefore };
  expect(d.queries).toBe(1);
  expect(d.lookups).toBeGreaterThanOrEqual(1);
  expect(d.lookups).toBeLessThanOrEqual(3);
  open.forEach((w) => w.cancel());
});

it('a TRUNCATE reaches watchers: the invalidator\'s new key-space generation makes the watched key re-read, and its gone row is sent as missing', async () => {
  const s = await seeded('to be truncated');
  const w = openWatch(t, [{ name: s.name }]);
  await w.next(isChange(s.name));
  // What a TRUNCATE of account_settings leaves behind, without emptying the shared table for
  // the other suites: this account's row gone, and (the invalidator's part) a new generation.
  await db('DELETE FROM account_settings WHERE account_id = $1', [s.account]);
  await admin.set(generationKey('account-settings'), newGeneration());
  const gone = change(await w.next((m) => isChange(s.name)(m) && change(m)!.missing))!;
  expect(gone).toMatchObject({ missing: true, fullState: true });
  w.cancel();
});

it('a watcher that does not read coalesces states: fewer than 60 of 100 changes sent, and it gets the latest when it reads again', async () => {
  const s = await seeded('slow');
  const w = openWatch(t, [{ name: s.name }]);
  await w.next(isChange(s.name));
  w.pause();
  const big = 'x'.repeat(20_000);
  let last = '';
  for (let i = 0; i < 100; i++) {
    // time_zone has no length CHECK in the table (the API validates it): a psql session can write 20 kB.
    const [row] = await db('UPDATE account_settings SET time_zone = $2 WHERE account_id = $1 RETURNING version', [s.account, `${big}-${i}`]);
    last = String(row!.version);
    await mark(s.key, last);
  }
  // 100 changes of ~20 kB: once HTTP/2 flow control and the client's buffer are full (~30
  // messages here) the server stops writing, and the rest coalesce into the latest.
  await new Promise((r) => setTimeout(r, 500));
  w.resume();
  const final = change(await w.next(isChange(s.name, last), 10_000))!;
  expect(final.value?.$case === 'accountSettings' && final.value.value.timeZone).toBe(`${big}-99`);
  const changes = w.messages.filter((m) => m.event?.$case === 'change').length;
  expect(changes).toBeLessThan(60);
  w.cancel();
});

it('authorizes every resource at open, refuses a caller over its stream limit, and ends a stream when its token expires', async () => {
  const s = await seeded('auth');
  const other = await mintToken({ sub: 'stranger', accounts: [newAccount()] });
  expect(await openWatch(t, [{ name: s.name }], other).ended).toMatchObject({ code: 7 }); // PERMISSION_DENIED
  // Every target is authorized, not only the first: an own target beside a foreign one is refused too.
  const ownOnly = await mintToken({ sub: 'partial', accounts: [s.account] });
  expect(await openWatch(t, [{ name: s.name }, { name: `accounts/${newAccount()}/settings` }], ownOnly).ended).toMatchObject({ code: 7 });
  expect((await openWatch(t, [{ name: 'accounts/x/nothing' }]).ended).fieldViolations[0]?.field).toBe('targets[0].name');

  const tok = await mintToken({ sub: 'limited' });
  const three = [0, 1, 2].map(() => openWatch(t, [{ name: s.name }], tok));
  await Promise.all(three.map((w) => w.next(isChange(s.name))));
  const fourth = await openWatch(t, [{ name: s.name }], tok).ended;
  expect(fourth).toMatchObject({ code: 8, reason: 'WATCH_LIMIT_EXCEEDED', retryDelayMs: 1000 }); // RESOURCE_EXHAUSTED
  three.forEach((w) => w.cancel());

  const shortLived = await mintToken({ sub: 'short', expiresIn: '2s' });
  const opened = Date.now();
  const w = openWatch(t, [{ name: s.name }], shortLived);
  await w.next(isChange(s.name));
  expect(await w.ended).toMatchObject({ code: 16 }); // UNAUTHENTICATED
  // When exp passes (a 2 s token; `exp` has whole seconds), not after the verifier's clock tolerance.
  expect(Date.now() - opened).toBeLessThan(4_000);
});

it('keeps a stream open while a long-lived token is valid (exp beyond setTimeout\'s 24.8 days)', async () => {
  const s = await seeded('long-lived');
  const w = openWatch(t, [{ name: s.name }], await mintToken({ sub: 'long-lived', expiresIn: '30d' }));
  await w.next(isChange(s.name));
  // A timer of more than 2^31-1 ms fires after 1 ms: the stream used to end UNAUTHENTICATED here.
  const early = await Promise.race([w.ended, new Promise((r) => setTimeout(() => r('open'), 1000))]);
  expect(early).toBe('open');
  w.cancel();
});

it('ends a stream opened with a just-expired token (accepted within the clock tolerance) and keeps nothing of it watching', async () => {
  const s = await seeded('expired');
  const w = openWatch(t, [{ name: s.name }], await mintToken({ sub: 'expired', expiresIn: '5s ago' }));
  expect(await w.ended).toMatchObject({ code: 16 }); // UNAUTHENTICATED
  const pushes = await metricValue(t.running, 'settings_watch_pushes_total');
  // A change of the key it named: a watcher left behind would read it and push it to the dead call.
  const [row] = await db('UPDATE account_settings SET display_name = $2 WHERE account_id = $1 RETURNING version', [s.account, 'after expiry']);
  await mark(s.key, row!.version as string);
  await new Promise((r) => setTimeout(r, 1000));
  expect(await metricValue(t.running, 'settings_watch_pushes_total')).toBe(pushes);
});

it('after Redis tracking was lost and is back, re-reads the watched key and sends what changed meanwhile', async () => {
  const s = await seeded('before');
  const w = openWatch(t, [{ name: s.name }]);
  await w.next(isProgress);
  // Changed while nothing is pushed to this replica (tracking held off until the marker is in
  // Redis): its push is lost for good, only the re-read after tracking is back can find it.
  const [row] = await withTrackingHeldOff(admin, t.running.nearCache!.tracking, async () => {
    const rows = await db('UPDATE account_settings SET display_name = $2 WHERE account_id = $1 RETURNING version', [s.account, 'while lost']);
    await mark(s.key, rows[0]!.version as string);
    return rows;
  });
  const got = change(await w.next(isChange(s.name, String(row!.version)), 10_000))!;
  expect(got.value?.$case === 'accountSettings' && got.value.value.displayName).toBe('while lost');
  w.cancel();
});

it('tells watchers to resume elsewhere (UNAVAILABLE with RetryInfo) when the replica shuts down', async () => {
  const own = await startTestServer();
  try {
    const s = await seeded('shutdown');
    const w = openWatch(own, [{ name: s.name }]);
    await w.next(isChange(s.name));
    const stopping = own.close();
    expect(await w.ended).toMatchObject({ code: 14, reason: 'SHUTTING_DOWN', retryDelayMs: 100 });
    await stopping;
  } finally {
    await own.close();
  }
});

// README, Watch limits: a full replica is UNAVAILABLE (another replica may have room), with RetryInfo 1 s.
it('refuses a stream over WATCH_MAX_STREAMS with UNAVAILABLE WATCH_REPLICA_FULL, whoever the caller', async () => {
  const s = await seeded('full');
  const one = await startTestServer({ WATCH_MAX_STREAMS: '1' });
  try {
    const first = openWatch(one, [{ name: s.name }]);
    await first.next(isChange(s.name));
    const second = await openWatch(one, [{ name: s.name }], await mintToken({ sub: 'another-caller' })).ended;
    expect(second).toMatchObject({ code: 14, reason: 'WATCH_REPLICA_FULL', retryDelayMs: 1000 }); // UNAVAILABLE
    first.cancel();
  } finally {
    await one.close();
  }
});

// README, Watch: a replica without Redis invalidation tracking cannot tell a watcher of changes.
it('refuses Watch with UNAVAILABLE WATCH_UNAVAILABLE on a replica running without the near-cache (NEAR_CACHE_ENABLED=false)', async () => {
  const s = await seeded('no-tracking');
  const plain = await startTestServer({ NEAR_CACHE_ENABLED: 'false' });
  try {
    expect(await openWatch(plain, [{ name: s.name }]).ended).toMatchObject({ code: 14, reason: 'WATCH_UNAVAILABLE' });
  } finally {
    await plain.close();
  }
});
