import type { StaffPermission, WatchSettingsResponse } from '@settings/api';
import type { ReadThrough } from '../../src/cache/read-through';
import type { StaffPermissionsRepo } from '../../src/db/staff-permissions-repo';
import type { MethodDeps } from '../../src/grpc/resource-methods/rpc-types';
import { watchTargetParser } from '../../src/grpc/watch/watch-targets';
import { KeyChangeBroadcast } from '../../src/watch/key-change-feed';
import { WatchHub } from '../../src/watch/watch-hub';
import { Watcher } from '../../src/watch/watcher';

const tick = async (): Promise<void> => {
  for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
};
const grant = (staff: string, etag: string): StaffPermission => ({ name: `accounts/a1/staffPermissions/${staff}`, etag, permissions: [] }) as unknown as StaffPermission;

it('a staff list resumed on a replica behind the caller sends the next change as a full state, so a grant revoked meanwhile does not stay with the caller', async () => {
  // What this replica's read path answers for the list (it is behind: v4, before bob's grant at v5).
  let list: { version: bigint; items: StaffPermission[] } = { version: 4n, items: [grant('alice', '2')] };
  const readThrough = { get: async () => ({ version: list.version, value: { items: list.items, truncated: false } }) } as unknown as ReadThrough;
  const deps = { readThrough } as unknown as MethodDeps;
  const parser = watchTargetParser(deps, {} as StaffPermissionsRepo, { maxRows: 2000, maxBytes: 1 << 20 });
  const feed = new KeyChangeBroadcast();
  feed.resumed();
  const hub = new WatchHub(feed, { retryMs: 10, onReadError: () => undefined });
  const out: WatchSettingsResponse[] = [];
  const w = new Watcher<WatchSettingsResponse>(hub, { write: (m) => (out.push(m), true), onceDrained: () => undefined }, { progressMessage: () => ({ event: undefined }) });
  // The caller had v6 (alice and bob) from another replica and resumes here with token 6; no hold.
  const [target] = parser.parse([{ name: 'accounts/a1', resumeToken: '6' }]).map((t) => t.build());
  w.start([target!]);
  await tick();
  // Bob's grant is revoked at v7; this replica hears of it.
  list = { version: 7n, items: [grant('alice', '2')] };
  feed.changed([target!.key]);
  await tick();
  const changes = out.flatMap((m) => (m.event?.$case === 'change' ? [m.event.value] : []));
  expect(changes.map((c) => [c.resumeToken, c.fullState])).toEqual([
    ['4', true],
    // Not a delta from v4 (which never had bob, so it would say nothing): the whole list, without bob.
    ['7', true],
  ]);
  const last = changes[1]!.value;
  expect(last?.$case === 'staffPermissions' ? last.value.upserted.map((g) => g.name) : undefined).toEqual(['accounts/a1/staffPermissions/alice']);
  w.close();
});

it('a resume token is refused (INVALID_ARGUMENT on its field) unless spelled as the service sends it and within a version\'s range', () => {
  const parser = watchTargetParser({} as MethodDeps, {} as StaffPermissionsRepo, { maxRows: 2000, maxBytes: 1 << 20 });
  for (const token of ['9999999999999999999', '0007', '-1', '1.5']) {
    expect(() => parser.parse([{ name: 'accounts/a1', resumeToken: token }])).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  }
  for (const token of ['0', '6', '9223372036854775807']) expect(parser.parse([{ name: 'accounts/a1', resumeToken: token }])).toHaveLength(1);
});
