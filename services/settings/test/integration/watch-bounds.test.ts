import { connect, constants as h2, type ClientHttp2Session, type ClientHttp2Stream } from 'node:http2';
import Redis from 'ioredis';
import { Client } from 'pg';
import { Metadata, type ClientReadableStream } from '@grpc/grpc-js';
import { SettingsServiceService, type WatchSettingsResponse } from '@settings/api';
import { cacheKeys, localDatabaseUrl, localRedisUrl, parseCacheValue, withCacheScripts } from '@settings/shared';
import { accountsDeletedAfterAll, db, metricValue, serverForTests, waitFor, type TestServer } from '../support/test-server';

/**
 * Two bounds of WatchSettings (README, Watch) observed on a running replica against the real
 * PostgreSQL and Redis, where only unit tests held them before:
 *  - a caller that stops reading holds at most two written messages of its stream in the
 *    replica (flush-bounded-sink.ts, watcher.ts): the replica's settings_watch_pushes_total stops
 *    growing while changes go on, and the caller gets the latest state, coalesced, once it reads;
 *  - at most 32 watched-key re-reads run at once per replica (watch-hub.ts): with
 *    account_settings locked, re-reads of 100 changed keys have 32 keys in flight in PostgreSQL.
 * Changes reach the watcher as they do in production: a psql UPDATE, then the invalidator's
 * marker written with its own script (no invalidator process runs in the tests).
 */
const admin = withCacheScripts(new Redis(localRedisUrl, { maxRetriesPerRequest: 1 }));
const newAccount = accountsDeletedAfterAll();
afterAll(() => admin.disconnect());
// Bookmarks every 15 s (the most allowed): none is written during a test, so every message
// written to a stream is a change (settings_watch_pushes_total counts changes only).
const t = serverForTests({ WATCH_PROGRESS_INTERVAL_MS: '15000', WATCH_MAX_STREAMS_PER_CALLER: '200' });

beforeAll(async () => {
  expect(await t.running.nearCache!.tracking.waitOn(5000)).toBe(true);
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const pushes = (): Promise<number> => metricValue(t.running, 'settings_watch_pushes_total');
const accountKeysRead = (): Promise<number> => metricValue(t.running, 'settings_db_keys_read_total', { kind: 'account_settings.read' });

const change = (m: WatchSettingsResponse) => (m.event?.$case === 'change' ? m.event.value : undefined);
const isChange = (name: string, version?: string) => (m: WatchSettingsResponse) => change(m)?.name === name && (version === undefined || change(m)?.resumeToken === version);
const accountSettingsOf = (m: WatchSettingsResponse) => {
  const v = change(m)?.value;
  return v?.$case === 'accountSettings' ? v.value : undefined;
};

/**
 * What the invalidator does after a committed change: a marker at the row's version. Its 0
 * ("nothing needed") is right too when the key already holds this version or a newer one (a
 * re-read after the previous change read the new row and filled it first).
 */
async function mark(key: string, version: string | bigint): Promise<void> {
  if ((await admin.evictToMarker(key, String(version), 60_000)) === 1) return;
  const held = parseCacheValue(await admin.getBuffer(key));
  expect(held?.kind === 'entry' && held.version >= BigInt(version)).toBe(true);
}

interface Messages {
  readonly messages: WatchSettingsResponse[];
  /** Resolves with the first message (from index `from` on) that `pred` accepts. */
  next(pred: (m: WatchSettingsResponse) => boolean, timeoutMs?: number, from?: number): Promise<WatchSettingsResponse>;
}

function messageLog(describeEnd: () => string): Messages & { add(m: WatchSettingsResponse): void } {
  const messages: WatchSettingsResponse[] = [];
  const waiters = new Set<() => void>();
  return {
    messages,
    add(m) {
      messages.push(m);
      for (const w of [...waiters]) w();
    },
    next(pred, timeoutMs = 10_000, from = 0) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const found = messages.slice(from).find(pred);
          if (!found) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(found);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no matching watch message within ${timeoutMs} ms; got ${messages.length} (${describeEnd()})`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
  };
}

/** A stream of the generated grpc-js client (the caller that reads everything at once). */
function openWatch(server: TestServer, names: string[]): Messages & { cancel(): void } {
  const def = SettingsServiceService.watchSettings;
  const metadata = new Metadata();
  metadata.set('authorization', `Bearer ${server.token}`);
  const stream: ClientReadableStream<WatchSettingsResponse> = server.client.makeServerStreamRequest(
    def.path,
    def.requestSerialize,
    def.responseDeserialize,
    { targets: names.map((name) => ({ name, resumeToken: '' })) },
    metadata,
    {},
  );
  let ended = 'open';
  stream.on('error', (err: Error) => (ended = `ended: ${err.message}`));
  const log = messageLog(() => ended);
  stream.on('data', (m: WatchSettingsResponse) => log.add(m));
  return { messages: log.messages, next: log.next, cancel: () => stream.cancel() };
}

/**
 * The HTTP/2 stream window this caller gives the server (SETTINGS_INITIAL_WINDOW_SIZE): what
 * the transport can take of a stream whose caller does not read is this, plus what the caller's
 * HTTP/2 stream had already buffered when reading stopped (at most its 16 KiB high-water mark
 * and one 16 KiB frame: Node stops consuming the stream's window on pause()).
 */
const CALLER_WINDOW_BYTES = 16_384;
const TRANSPORT_TAKES_AT_MOST_BYTES = CALLER_WINDOW_BYTES + 16_384 + 16_384;

/**
 * A Watch stream over a raw HTTP/2 connection (node:http2), whose reading the test stops and
 * starts: with pause() Node stops consuming the stream's flow-control window, so the server's
 * writes stop being flushed once the window is used, and nothing else (no gRPC client buffer of
 * unknown size) takes messages in between.
 */
function openRawWatch(port: number, token: string, names: string[]): Messages & { pause(): void; resume(): void; close(): void } {
  const session: ClientHttp2Session = connect(`http://127.0.0.1:${port}`, { settings: { initialWindowSize: CALLER_WINDOW_BYTES } });
  session.on('error', () => undefined);
  const def = SettingsServiceService.watchSettings;
  const stream: ClientHttp2Stream = session.request({
    [h2.HTTP2_HEADER_METHOD]: 'POST',
    [h2.HTTP2_HEADER_PATH]: def.path,
    [h2.HTTP2_HEADER_CONTENT_TYPE]: 'application/grpc',
    [h2.HTTP2_HEADER_TE]: 'trailers',
    authorization: `Bearer ${token}`,
  });
  stream.on('error', () => undefined);
  let status = 'open';
  const noteStatus = (headers: Record<string, unknown>): void => {
    if (headers['grpc-status'] !== undefined) status = `grpc-status ${String(headers['grpc-status'])} ${String(headers['grpc-message'] ?? '')}`;
  };
  stream.on('response', noteStatus);
  stream.on('trailers', noteStatus);
  const log = messageLog(() => status);
  // gRPC's length-prefixed messages: 1 byte compressed flag (0: identity), 4 bytes length.
  const body = def.requestSerialize({ targets: names.map((name) => ({ name, resumeToken: '' })) });
  const prefix = Buffer.alloc(5);
  prefix.writeUInt32BE(body.length, 1);
  stream.end(Buffer.concat([prefix, body]));
  let pending: Buffer = Buffer.alloc(0);
  stream.on('data', (chunk: Buffer) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    while (pending.length >= 5) {
      const length = pending.readUInt32BE(1);
      if (pending.length < 5 + length) break;
      log.add(def.responseDeserialize(pending.subarray(5, 5 + length)));
      pending = pending.subarray(5 + length);
    }
  });
  return {
    messages: log.messages,
    next: log.next,
    pause: () => void stream.pause(),
    resume: () => void stream.resume(),
    close() {
      stream.close(h2.NGHTTP2_CANCEL);
      session.destroy();
    },
  };
}

// README, Watch limits: "a caller that stops reading holds at most two written messages of each
// stream in the replica …, every later change being coalesced into the state sent once it reads again".
it('a caller that stops reading holds at most two written messages of its stream in the replica: later changes are coalesced, and it gets the latest state when it reads again', async () => {
  const account = newAccount();
  const name = `accounts/${account}/settings`;
  const key = cacheKeys.accountSettings(account).key;
  await db('INSERT INTO account_settings (account_id, display_name) VALUES ($1, $2)', [account, 'slow caller']);
  // Each change is a ~100 kB message (time_zone has no length CHECK in the table; the API
  // validates it, a psql session can write it): larger than all the transport can take of a
  // stream whose caller stopped reading, so every message written after the pause stays in the
  // replica, unflushed, and the count of those is what the replica holds.
  const VALUE_BYTES = 100_000;
  // The README's bound (flush-bounded-sink.ts MAX_UNFLUSHED_MESSAGES), spelled here so that a
  // change of the constant fails this test rather than moving it.
  const HELD_AT_MOST = 2;
  expect(VALUE_BYTES).toBeGreaterThan(TRANSPORT_TAKES_AT_MOST_BYTES);
  const big = (i: number): string => `${String(i).padStart(3, '0')}-${'z'.repeat(VALUE_BYTES)}`;

  const slow = openRawWatch(t.running.port, t.token, [name]);
  const probe = openWatch(t, [name]);
  try {
    expect(accountSettingsOf(await slow.next(isChange(name)))?.displayName).toBe('slow caller');
    slow.pause();
    // A caller on the same key that reads everything: the key's topic hands each state to every
    // watcher of the key in one go, so once the probe has a version, the paused stream's watcher
    // has had it too (written, or held as its pending state).
    await probe.next(isChange(name));
    const pushesAtPause = await pushes();
    const probeChangesAtPause = probe.messages.filter(isChange(name)).length;
    // Change messages written to the paused stream since the pause: the replica's count minus the probe's.
    const writtenToSlow = async (): Promise<number> => (await pushes()) - pushesAtPause - (probe.messages.filter(isChange(name)).length - probeChangesAtPause);

    const CHANGES = 25;
    const written: number[] = [];
    const versions: string[] = [];
    for (let i = 0; i < CHANGES; i++) {
      const [row] = await db('UPDATE account_settings SET time_zone = $2 WHERE account_id = $1 RETURNING version', [account, big(i)]);
      const version = String(row!.version);
      versions.push(version);
      await mark(key, version);
      await probe.next(isChange(name, version));
      written.push(await writtenToSlow());
    }
    // The stream blocked after two messages (nothing of them flushed: each is larger than what
    // the transport takes), and did not grow by one message for the 23 changes after that.
    expect(written).toEqual(Array.from({ length: CHANGES }, (_, i) => Math.min(i + 1, HELD_AT_MOST)));
    // Nothing arrived while paused beyond the first state (the transport took less than one message).
    expect(slow.messages.filter(isChange(name))).toHaveLength(1);

    slow.resume();
    const last = versions[CHANGES - 1]!;
    const final = await slow.next(isChange(name, last));
    expect(accountSettingsOf(final)?.timeZone).toBe(big(CHANGES - 1));
    // Give anything else queued for it time to arrive (and to be counted).
    await sleep(500);
    const afterPause = slow.messages.filter(isChange(name)).slice(1);
    // The two messages held, then one coalesced state, the latest: not the 25 changes.
    expect(afterPause.map((m) => change(m)!.resumeToken)).toEqual([versions[0], versions[1], last]);
    expect(await writtenToSlow()).toBe(HELD_AT_MOST + 1);
  } finally {
    slow.close();
    probe.cancel();
  }
});

/** Holds ACCESS EXCLUSIVE on account_settings in a transaction of its own: every read of the table waits. */
async function withAccountSettingsLocked<R>(inLock: (locker: Client) => Promise<R>): Promise<R> {
  const locker = new Client({ connectionString: localDatabaseUrl, application_name: 'watch-bounds-test-locker' });
  await locker.connect();
  let committed = false;
  try {
    await locker.query('BEGIN');
    // Never queue long behind another session's lock on the shared table (queries of other
    // suites would queue behind this one meanwhile): give up after 2 s.
    await locker.query("SET LOCAL lock_timeout = '2s'");
    await locker.query('LOCK TABLE account_settings IN ACCESS EXCLUSIVE MODE');
    const result = await inLock(locker);
    await locker.query('COMMIT');
    committed = true;
    return result;
  } finally {
    if (!committed) await locker.query('ROLLBACK').catch(() => undefined);
    await locker.end().catch(() => undefined);
  }
}

// README, Watch: "at most 32 such re-reads run at once per replica (the rest wait their turn …)".
it('runs at most 32 watched-key re-reads at once per replica: 100 keys changed while account_settings is locked have 32 keys in flight in PostgreSQL, and every stream gets its new state once the lock is gone', async () => {
  const WATCHED = 100;
  const MAX_CONCURRENT_READS = 32;
  const accounts = Array.from({ length: WATCHED }, () => newAccount());
  await db("INSERT INTO account_settings (account_id, display_name) SELECT a, 'before' FROM unnest($1::text[]) AS a", [accounts]);
  const names = accounts.map((a) => `accounts/${a}/settings`);
  // One stream per account, as a reconnect storm of callers would open them.
  const streams = names.map((n) => openWatch(t, [n]));
  try {
    await Promise.all(streams.map((s, i) => s.next(isChange(names[i]!), 15_000)));
    // The reads the first states caused (and their fills' own pushes) are over.
    await sleep(300);

    const inLock = await withAccountSettingsLocked(async (locker) => {
      const keysBefore = await accountKeysRead();
      // Committed only when the lock is released: the invalidator of another suite (if one
      // runs) cannot mark these keys before this test does, and every re-read that reaches
      // PostgreSQL waits for the lock.
      const updated = await locker.query<{ account_id: string; version: string }>(
        "UPDATE account_settings SET display_name = 'after' WHERE account_id = ANY($1) RETURNING account_id, version",
        [accounts],
      );
      await Promise.all(updated.rows.map((r) => mark(cacheKeys.accountSettings(r.account_id).key, r.version)));
      // Each marker's re-read misses Redis and loads from PostgreSQL, where it waits for the lock.
      // (How many did is asserted once the lock is released.)
      await waitFor(async () => (await accountKeysRead()) - keysBefore >= MAX_CONCURRENT_READS, 4000, 'watched keys read from PostgreSQL').catch(() => undefined);
      // Time for any further re-read to start, were more than 32 allowed at once.
      await sleep(1000);
      const keysInFlight = (await accountKeysRead()) - keysBefore;
      const [waiting] = await db("SELECT count(*) AS n FROM pg_stat_activity WHERE $1 = ANY (pg_blocking_pids(pid)) AND application_name = 'settings-service-read'", [
        (await locker.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid,
      ]);
      const gotNewState = streams.filter((s, i) => s.messages.some((m) => isChange(names[i]!)(m) && accountSettingsOf(m)?.displayName === 'after')).length;
      return { keysBefore, keysInFlight, backendsWaiting: Number(waiting!.n), gotNewState, versions: new Map(updated.rows.map((r) => [r.account_id, String(r.version)])) };
    });

    // 32 keys read (each re-read reads its one key) and none answered: the other 68 re-reads wait their turn.
    expect(inLock.keysInFlight).toBe(MAX_CONCURRENT_READS);
    expect(inLock.backendsWaiting).toBeGreaterThanOrEqual(1);
    expect(inLock.gotNewState).toBe(0);
    // Released: every re-read runs, and every stream gets its account's new state.
    await Promise.all(
      streams.map(async (s, i) => {
        const got = await s.next(isChange(names[i]!, inLock.versions.get(accounts[i]!)), 15_000);
        expect(accountSettingsOf(got)?.displayName).toBe('after');
      }),
    );
    // Each of the 100 keys was read from PostgreSQL: the 68 re-reads that waited were not dropped.
    expect((await accountKeysRead()) - inLock.keysBefore).toBeGreaterThanOrEqual(WATCHED);
  } finally {
    streams.forEach((s) => s.cancel());
  }
});
