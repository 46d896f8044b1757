import { EventEmitter } from 'node:events';
import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import type { SettingsClient } from '../../src/client/settings-client';
import { SettingsWatch } from '../../src/client/settings-watch';
import type { WatchSettingsRequest, WatchSettingsResponse } from '../../src/gen/settings/v1/watch';

/** A stand-in for the generated client's watchSettings: records each request, the test drives each stream. */
class FakeGrpc {
  readonly requests: WatchSettingsRequest[] = [];
  readonly streams: Array<EventEmitter & { cancel(): void }> = [];
  watchSettings(req: WatchSettingsRequest): EventEmitter & { cancel(): void } {
    this.requests.push(req);
    const s = Object.assign(new EventEmitter(), { cancel: () => s.emit('error', err(status.CANCELLED)) });
    this.streams.push(s);
    return s;
  }
}

const err = (code: status): ServiceError => Object.assign(new Error(status[code]), { code, details: status[code], metadata: new Metadata() });
const tick = (ms = 5): Promise<void> => new Promise((r) => setTimeout(r, ms));
const change = (name: string, resumeToken: string, value: unknown, fullState = true): WatchSettingsResponse =>
  ({ event: { $case: 'change', value: { name, resumeToken, fullState, missing: false, value } } }) as WatchSettingsResponse;

/** The account settings of accounts/a at `timeZone`, as a change carries them. */
const settings = (timeZone: string) => ({ $case: 'accountSettings', value: { name: 'accounts/a/settings', timeZone } });
/** The time zone of accounts/a's settings in the watch's copy (false when it holds none). */
const timeZoneOf = (watch: SettingsWatch): string | false => {
  const got = watch.get('accounts/a/settings');
  return got?.kind === 'accountSettings' && got.value.timeZone;
};

function setUp(): { grpc: FakeGrpc; watch: SettingsWatch } {
  const grpc = new FakeGrpc();
  const watch = new SettingsWatch({ grpc } as unknown as Pick<SettingsClient, 'grpc'>, { names: ['accounts/a/settings', 'accounts/a'], backoff: { initialMs: 1, maxMs: 2 }, random: () => 1 });
  return { grpc, watch };
}

describe('SettingsWatch, the client helper that keeps a local copy', () => {
  it('is ready once every name has a state, applies per-grant changes, and resumes from the last versions after a drop', async () => {
    const { grpc, watch } = setUp();
    await tick();
    const s = grpc.streams[0]!;
    s.emit('data', change('accounts/a/settings', '5', { $case: 'accountSettings', value: { name: 'accounts/a/settings', timeZone: 'UTC' } }));
    s.emit('data', change('accounts/a', '3', { $case: 'staffPermissions', value: { upserted: [{ name: 'g1' }, { name: 'g2' }], deleted: [] } }));
    await watch.ready();
    s.emit('data', change('accounts/a', '4', { $case: 'staffPermissions', value: { upserted: [{ name: 'g3' }], deleted: ['g1'] } }, false));
    const staff = watch.get('accounts/a');
    expect(staff?.kind === 'staffPermissions' && [...staff.value.keys()]).toEqual(['g2', 'g3']);

    s.emit('error', err(status.UNAVAILABLE));
    await tick();
    expect(grpc.requests[1]!.targets).toEqual([
      { name: 'accounts/a/settings', resumeToken: '5' },
      { name: 'accounts/a', resumeToken: '4' },
    ]);
    watch.close();
  });

  it('never goes back through a version-0 message: after "missing" or a bookmark at 0 from a replica behind it, an older state from the next replica is still ignored', async () => {
    const { grpc, watch } = setUp();
    await tick();
    const grants = (names: string[]) => ({ $case: 'staffPermissions', value: { upserted: names.map((name) => ({ name })), deleted: [] } });
    grpc.streams[0]!.emit('data', change('accounts/a/settings', '6', settings('v6')));
    grpc.streams[0]!.emit('data', change('accounts/a', '8', grants([]))); // g1 granted at v5, revoked at v8
    grpc.streams[0]!.emit('error', err(status.UNAVAILABLE));
    await tick();
    // A replica that has heard of neither: "missing" for the settings (applied: it may be a
    // deletion), the list's state before its first grant, and a bookmark at 0 for both.
    const behind = grpc.streams[1]!;
    behind.emit('data', { event: { $case: 'change', value: { name: 'accounts/a/settings', resumeToken: '0', fullState: true, missing: true } } } as WatchSettingsResponse);
    behind.emit('data', change('accounts/a', '0', grants([])));
    behind.emit('data', { event: { $case: 'progress', value: { versions: [{ name: 'accounts/a/settings', resumeToken: '0' }, { name: 'accounts/a', resumeToken: '0' }] } } } as WatchSettingsResponse);
    behind.emit('error', err(status.UNAVAILABLE));
    await tick();
    // It resumes from the highest versions it holds where the copy has a state, and from 0 only
    // where it applied "missing": resumed from 0, a replica at an older list than the copy's would
    // send deltas from that list (a grant the copy holds and that list never had stays for good).
    expect(grpc.requests[2]!.targets).toEqual([
      { name: 'accounts/a/settings', resumeToken: '0' },
      { name: 'accounts/a', resumeToken: '8' },
    ]);
    // The next replica is behind too, at v5 for both.
    const next = grpc.streams[2]!;
    next.emit('data', change('accounts/a/settings', '5', settings('v5')));
    next.emit('data', change('accounts/a', '5', grants(['g1'])));
    expect(watch.get('accounts/a/settings')).toEqual({ kind: 'missing' });
    const staff = watch.get('accounts/a');
    expect(staff?.kind === 'staffPermissions' && [...staff.value.keys()]).toEqual([]);
    // Newer versions are applied as ever.
    next.emit('data', change('accounts/a/settings', '9', settings('v9')));
    expect(timeZoneOf(watch)).toBe('v9');
    watch.close();
  });

  it('after a deletion seen by the stream that sent the state, resumes from that version (not the deletion\'s 0) and never applies the deleted state again', async () => {
    const { grpc, watch } = setUp();
    await tick();
    const missing = { event: { $case: 'change', value: { name: 'accounts/a/settings', resumeToken: '0', fullState: true, missing: true } } } as WatchSettingsResponse;
    grpc.streams[0]!.emit('data', change('accounts/a/settings', '6', settings('v6')));
    grpc.streams[0]!.emit('data', missing); // deleted: this replica saw v6, then the row gone
    grpc.streams[0]!.emit('data', { event: { $case: 'progress', value: { versions: [{ name: 'accounts/a/settings', resumeToken: '0' }] } } } as WatchSettingsResponse);
    grpc.streams[0]!.emit('error', err(status.UNAVAILABLE));
    await tick();
    // Resumed from 0, a replica that has not heard of the deletion had nothing to hold back and sent v6.
    expect(grpc.requests[1]!.targets[0]).toEqual({ name: 'accounts/a/settings', resumeToken: '6' });
    grpc.streams[1]!.emit('data', change('accounts/a/settings', '6', settings('v6')));
    expect(watch.get('accounts/a/settings')).toEqual({ kind: 'missing' });
    // A re-creation draws a higher version: applied.
    grpc.streams[1]!.emit('data', change('accounts/a/settings', '7', settings('v7')));
    expect(timeZoneOf(watch)).toBe('v7');
    watch.close();
  });

  it('a "missing" that is a resumed stream\'s first word (a replica that may not have heard of the resource yet) does not bar that version: the same replica sends it once it hears of it (server non-guarantee 26 (b))', async () => {
    const { grpc, watch } = setUp();
    await tick();
    grpc.streams[0]!.emit('data', change('accounts/a/settings', '5', settings('v5')));
    grpc.streams[0]!.emit('error', err(status.UNAVAILABLE));
    await tick();
    const behind = grpc.streams[1]!;
    behind.emit('data', { event: { $case: 'change', value: { name: 'accounts/a/settings', resumeToken: '0', fullState: true, missing: true } } } as WatchSettingsResponse);
    expect(watch.get('accounts/a/settings')).toEqual({ kind: 'missing' });
    behind.emit('data', change('accounts/a/settings', '5', settings('v5')));
    expect(timeZoneOf(watch)).toBe('v5');
    watch.close();
  });

  it('backs off further while every new stream fails after its first state; a bookmark (the stream is current) resets the back-off', () => {
    jest.useFakeTimers();
    try {
      const grpc = new FakeGrpc();
      const watch = new SettingsWatch({ grpc } as unknown as Pick<SettingsClient, 'grpc'>, { names: ['accounts/a/settings'], backoff: { initialMs: 100, maxMs: 10_000 }, random: () => 1 });
      const last = () => grpc.streams[grpc.streams.length - 1]!;
      const stateThenFail = (): void => {
        last().emit('data', change('accounts/a/settings', '5', { $case: 'accountSettings', value: { name: 'accounts/a/settings' } }));
        last().emit('error', err(status.INTERNAL));
      };
      stateThenFail();
      jest.advanceTimersByTime(100);
      expect(grpc.streams).toHaveLength(2);
      // Failed again after its first state: 200 ms now, not 100 again.
      stateThenFail();
      jest.advanceTimersByTime(100);
      expect(grpc.streams).toHaveLength(2);
      jest.advanceTimersByTime(100);
      expect(grpc.streams).toHaveLength(3);
      // This one got as far as a bookmark: the next drop starts over at 100 ms.
      last().emit('data', { event: { $case: 'progress', value: { versions: [{ name: 'accounts/a/settings', resumeToken: '5' }] } } } as WatchSettingsResponse);
      last().emit('error', err(status.UNAVAILABLE));
      jest.advanceTimersByTime(100);
      expect(grpc.streams).toHaveLength(4);
      watch.close();
    } finally {
      jest.useRealTimers();
    }
  });

  it('stops for good and reports it when the request itself is refused (PERMISSION_DENIED), without reconnecting', async () => {
    const { grpc, watch } = setUp();
    const errors: string[] = [];
    watch.onError((e) => errors.push(e.codeName));
    await tick();
    grpc.streams[0]!.emit('error', err(status.PERMISSION_DENIED));
    await tick(20);
    expect(errors).toEqual(['PERMISSION_DENIED']);
    expect(grpc.requests).toHaveLength(1);
  });

  it('never goes back: an older present state or bookmark from a replica that is behind (server non-guarantee 26) is ignored, and the resume token stays the highest', async () => {
    const { grpc, watch } = setUp();
    await tick();
    grpc.streams[0]!.emit('data', change('accounts/a/settings', '5', settings('v5')));
    grpc.streams[0]!.emit('error', err(status.UNAVAILABLE));
    await tick();
    const behind = grpc.streams[1]!;
    behind.emit('data', change('accounts/a/settings', '4', settings('v4')));
    behind.emit('data', { event: { $case: 'progress', value: { versions: [{ name: 'accounts/a/settings', resumeToken: '4' }] } } } as WatchSettingsResponse);
    expect(timeZoneOf(watch)).toBe('v5');
    behind.emit('error', err(status.UNAVAILABLE));
    await tick();
    expect(grpc.requests[2]!.targets[0]).toEqual({ name: 'accounts/a/settings', resumeToken: '5' });
    // A deletion carries no newer version: "missing" is always applied.
    grpc.streams[2]!.emit('data', { event: { $case: 'change', value: { name: 'accounts/a/settings', resumeToken: '0', fullState: true, missing: true } } } as WatchSettingsResponse);
    expect(watch.get('accounts/a/settings')).toEqual({ kind: 'missing' });
    watch.close();
  });

  it('ready() rejects when the watch stops for good or is closed, instead of hanging', async () => {
    const { grpc, watch } = setUp();
    const ready = watch.ready();
    await tick();
    grpc.streams[0]!.emit('error', err(status.PERMISSION_DENIED));
    await expect(ready).rejects.toMatchObject({ codeName: 'PERMISSION_DENIED' });
    const other = setUp();
    const pending = other.watch.ready();
    other.watch.close();
    await expect(pending).rejects.toThrow(/closed/);
    await expect(other.watch.ready()).rejects.toThrow(/closed/);
  });

  it('reconnects when the stream goes silent for longer than idleTimeoutMs (no bookmark: the replica may be deaf)', async () => {
    const grpc = new FakeGrpc();
    const watch = new SettingsWatch({ grpc } as unknown as Pick<SettingsClient, 'grpc'>, { names: ['accounts/a/settings'], idleTimeoutMs: 20, backoff: { initialMs: 1, maxMs: 1 }, random: () => 1 });
    await tick(60);
    expect(grpc.requests.length).toBeGreaterThan(1);
    watch.close();
  });
});
