import { Metadata, type ClientReadableStream } from '@grpc/grpc-js';
import { AccountSettings, SettingsServiceService, type WatchSettingsResponse } from '@settings/api';
import { cacheKeys, generationKey, PAYLOAD_FORMATS, PayloadGenerations, parseCacheValue, withCacheScripts } from '@settings/shared';
import { createTestRedis } from '@settings/local-stack';
import { accountsDeletedAfterAll, metricValue, serverForTests, waitFor, type TestServer } from '../support/test-server';

/**
 * Two releases share one Redis during a rolling update. The newer one changed the payload of
 * account settings (a new field, a column mapped differently: payloadFormat 1 here, 0 for the
 * older one). No row changes, so no change event evicts anything: the newer release must still
 * never serve an entry the older one filled in its own shape, at the row's current version.
 */
const redis = withCacheScripts(createTestRedis());
const newAccount = accountsDeletedAfterAll();
afterAll(() => redis.disconnect());

const older = serverForTests();
const newer = serverForTests({}, { payloadFormats: { ...PAYLOAD_FORMATS, 'account-settings': 1 } });

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A Watch stream on `name`; resolves once its first state arrived. */
async function watching(server: TestServer, name: string): Promise<{ messages: WatchSettingsResponse[]; cancel(): void }> {
  const def = SettingsServiceService.watchSettings;
  const metadata = new Metadata();
  metadata.set('authorization', `Bearer ${server.token}`);
  const stream: ClientReadableStream<WatchSettingsResponse> = server.client.makeServerStreamRequest(def.path, def.requestSerialize, def.responseDeserialize, { targets: [{ name, resumeToken: '' }] }, metadata, {});
  const messages: WatchSettingsResponse[] = [];
  stream.on('error', () => undefined);
  await new Promise<void>((resolve) =>
    stream.on('data', (m: WatchSettingsResponse) => {
      messages.push(m);
      resolve();
    }),
  );
  return { messages, cancel: () => stream.cancel() };
}

const keysRead = (t: TestServer): Promise<number> => metricValue(t.running, 'settings_db_keys_read_total', { kind: 'account_settings.read' });

/** An entry of the row's version as the older release fills it, but with its own payload. */
async function plantOlderEntry(account: string, version: string, payload: Uint8Array): Promise<void> {
  const { key } = cacheKeys.accountSettings(account);
  const generation = (await redis.get(generationKey('account-settings')))!;
  const servedByOlder = new PayloadGenerations().of('account-settings', BigInt(generation)).toString();
  // Replaces the entry the reads below left (same version, same generation: delete it first).
  await redis.del(key);
  expect(await redis.versionedFill(key, version, servedByOlder, 60_000, Buffer.from(payload), 60_000)).toBe(1);
}

describe('a release whose payload format differs', () => {
  it('never serves the entries another release filled, though their version is current: it reads the row and fills its own', async () => {
    const account = newAccount();
    const name = `accounts/${account}/settings`;
    const saved = await older.call('updateAccountSettings', { accountSettings: AccountSettings.fromPartial({ name, displayName: 'from the row' }), allowMissing: true });
    await older.call('getAccountSettings', { name, consistency: { requirement: { $case: 'atLeastAsFresh', value: saved.consistencyToken } } });

    // What the older release would have cached in its shape (here: another display name, so
    // serving it shows). Control: the older release serves it.
    await plantOlderEntry(account, saved.etag, AccountSettings.encode(AccountSettings.fromPartial({ ...saved, displayName: 'older shape' })).finish());
    await waitFor(async () => (await older.call('getAccountSettings', { name })).displayName === 'older shape', 5000, 'the older release serving its planted entry');

    const readsBefore = await keysRead(newer);
    expect(await newer.call('getAccountSettings', { name })).toMatchObject({ displayName: 'from the row', etag: saved.etag });
    expect(await keysRead(newer)).toBe(readsBefore + 1);
    // Its fill replaced the older entry (another generation, same version: versioned-fill.lua).
    const { key } = cacheKeys.accountSettings(account);
    await waitFor(async () => {
      const v = parseCacheValue(await redis.getBuffer(key));
      return v?.kind === 'entry' && AccountSettings.decode(v.payload).displayName === 'from the row';
    }, 5000, 'the newer release having filled its own entry');
    // ... and it serves that one from then on, without reading the row again.
    const afterFill = await keysRead(newer);
    for (let i = 0; i < 3; i++) expect((await newer.call('getAccountSettings', { name })).displayName).toBe('from the row');
    expect(await keysRead(newer)).toBe(afterFill);
  });

  it('and the older release does not serve the newer one\'s entries either (each one\'s fill is the other\'s miss)', async () => {
    const account = newAccount();
    const name = `accounts/${account}/settings`;
    const saved = await newer.call('updateAccountSettings', { accountSettings: AccountSettings.fromPartial({ name, displayName: 'v1' }), allowMissing: true });
    const { key } = cacheKeys.accountSettings(account);
    await newer.call('getAccountSettings', { name, consistency: { requirement: { $case: 'atLeastAsFresh', value: saved.consistencyToken } } });
    await waitFor(async () => parseCacheValue(await redis.getBuffer(key))?.kind === 'entry', 5000, 'the newer release\'s fill');

    const readsBefore = await keysRead(older);
    expect(await older.call('getAccountSettings', { name })).toMatchObject({ displayName: 'v1', etag: saved.etag });
    expect(await keysRead(older)).toBe(readsBefore + 1);
  });

  it('serves its own fills from the cache afterwards: a format other than 0 costs a cold key one read of its row, not one per read', async () => {
    for (let round = 0; round < 2; round++) {
      const account = newAccount();
      const name = `accounts/${account}/settings`;
      const saved = await older.call('updateAccountSettings', { accountSettings: AccountSettings.fromPartial({ name, displayName: `cold ${round}` }), allowMissing: true });
      const { key } = cacheKeys.accountSettings(account);
      const before = await keysRead(newer);
      expect(await newer.call('getAccountSettings', { name })).toMatchObject({ etag: saved.etag });
      await waitFor(async () => parseCacheValue(await redis.getBuffer(key))?.kind === 'entry', 5000, 'the fill');
      // Served from what it filled: a fill under any other generation would be read again.
      for (let i = 0; i < 3; i++) expect((await newer.call('getAccountSettings', { name })).displayName).toBe(`cold ${round}`);
      expect(await keysRead(newer)).toBe(before + 1);
    }
  });

  it('watchers on both releases do not refill a key back and forth: reads of its row stay bounded by the callers\' reads', async () => {
    const account = newAccount();
    const name = `accounts/${account}/settings`;
    await older.call('updateAccountSettings', { accountSettings: AccountSettings.fromPartial({ name, displayName: 'watched' }), allowMissing: true });
    const watches = [await watching(older, name), await watching(newer, name)];
    try {
      const before = (await keysRead(older)) + (await keysRead(newer));
      // One caller read on each release: each fills its own entry, a change pushed to the other's watcher.
      await newer.call('getAccountSettings', { name });
      await older.call('getAccountSettings', { name });
      await sleep(1500);
      const reads = (await keysRead(older)) + (await keysRead(newer)) - before;
      // Two caller reads and at most one watch re-read per fill; a refill loop reads hundreds of times.
      expect(reads).toBeLessThanOrEqual(6);
    } finally {
      for (const w of watches) w.cancel();
    }
  });
});
