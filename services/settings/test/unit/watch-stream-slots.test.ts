import { EventEmitter } from 'node:events';
import { Metadata, status } from '@grpc/grpc-js';
import { createLogger } from '@settings/shared';
import type { Principal } from '../../src/grpc/auth';
import { API_SCOPES } from '../../src/grpc/scopes';
import { WatchSettings } from '../../src/grpc/watch/watch-settings';
import { createSettingsMetrics } from '../../src/metrics';
import { KeyChangeBroadcast } from '../../src/watch/key-change-feed';
import { WatchHub } from '../../src/watch/watch-hub';
import { StreamLimits } from '../../src/watch/stream-limits';

/**
 * A Watch stream's slot (WATCH_MAX_STREAMS_PER_CALLER) against the one interleaving an
 * integration test cannot force: the caller cancels while the stream's token is being verified.
 * The cancel used to run the stream's cleanup before it held a slot, and the slot taken after
 * verification was then never given back; enough such cancels locked the caller out.
 */
type WatchDeps = ConstructorParameters<typeof WatchSettings>[0];

/** A WatchSettings with test defaults: no hub or targets unless a test watches for real. */
function watchSettings(o: {
  limits: StreamLimits;
  authenticate: WatchDeps['authenticator']['authenticate'];
  isShuttingDown?: () => boolean;
  hub?: WatchHub;
  targets?: WatchDeps['targets'];
}): WatchSettings {
  return new WatchSettings({
    hub: o.hub ?? ({} as unknown as WatchHub),
    limits: o.limits,
    targets: o.targets ?? { parse: () => [] },
    authenticator: { authenticate: o.authenticate },
    metrics: createSettingsMetrics(),
    log: createLogger('test', 'silent'),
    progressIntervalMs: 60_000,
    resumeHoldMs: 0,
    isShuttingDown: o.isShuttingDown ?? (() => false),
  });
}

describe('WatchSettings stream slots', () => {
  it('gives the slot back when the call is cancelled while its token is being verified', async () => {
    const limits = new StreamLimits(10, 1);
    let verified!: (p: Principal) => void;
    // The cancelled stream ends before it would watch anything: no hub, no targets.
    const watch = watchSettings({ limits, authenticate: () => new Promise<Principal>((resolve) => (verified = resolve)) });
    const call = Object.assign(new EventEmitter(), { metadata: new Metadata(), request: { targets: [] } });
    // The handler is typed for grpc-js's ServerWritableStream; this call has what serve() reads before a stream opens.
    watch.handler(call as unknown as Parameters<WatchSettings['handler']>[0]);
    call.emit('cancelled');
    verified({ subject: 'caller', accounts: 'all', scopes: new Set(API_SCOPES) });
    await new Promise((r) => setImmediate(r));
    expect(limits.open).toBe(0);
    expect(watch.openStreams).toBe(0);
  });

  it('ends a stream whose token was being verified when shutdown began with UNAVAILABLE SHUTTING_DOWN, and gives its slot back', async () => {
    const limits = new StreamLimits(10, 10);
    let shuttingDown = false;
    let verified!: (p: Principal) => void;
    // The stream ends before it would watch anything: no hub, no targets.
    const watch = watchSettings({ limits, authenticate: () => new Promise<Principal>((resolve) => (verified = resolve)), isShuttingDown: () => shuttingDown });
    const errors: Array<{ code?: number; details?: string }> = [];
    const call = Object.assign(new EventEmitter(), { metadata: new Metadata(), request: { targets: [] }, write: () => true });
    call.on('error', (e: { code?: number; details?: string }) => errors.push(e));
    watch.handler(call as unknown as Parameters<WatchSettings['handler']>[0]);
    // SIGTERM: stop() marks the replica shutting down and ends every open stream, while this
    // one's token is still being verified (so it is not open yet).
    shuttingDown = true;
    watch.endAll();
    verified({ subject: 'caller', accounts: 'all', scopes: new Set(API_SCOPES) });
    await new Promise((r) => setImmediate(r));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ code: status.UNAVAILABLE });
    expect(watch.openStreams).toBe(0);
    expect(limits.open).toBe(0);
  });

  it('refuses a stream beyond the replica\'s cap as UNAVAILABLE WATCH_REPLICA_FULL, and one beyond the caller\'s cap as RESOURCE_EXHAUSTED WATCH_LIMIT_EXCEEDED', async () => {
    const feed = new KeyChangeBroadcast();
    feed.resumed();
    const hub = new WatchHub(feed, { retryMs: 1000, onReadError: () => undefined });
    const watch = watchSettings({
      hub,
      limits: new StreamLimits(2, 1),
      targets: {
        parse: () => [{ account: 'a1', build: () => ({ name: 'x', key: 'k', generationKey: 'g', read: async () => ({ state: 's', version: 1n }), render: () => [] }) }],
      },
      authenticate: async (metadata: Metadata) => ({ subject: String(metadata.get('sub')[0]), accounts: 'all' as const, scopes: new Set(API_SCOPES) }),
    });
    const open = async (sub: string): Promise<Array<{ code?: number; details?: string }>> => {
      const metadata = new Metadata();
      metadata.set('sub', sub);
      const errors: Array<{ code?: number; details?: string }> = [];
      const call = Object.assign(new EventEmitter(), { metadata, request: { targets: [] }, write: () => true });
      call.on('error', (e: { code?: number; details?: string }) => errors.push(e));
      watch.handler(call as unknown as Parameters<WatchSettings['handler']>[0]);
      await new Promise((r) => setImmediate(r));
      return errors;
    };
    expect(await open('a')).toEqual([]);
    expect((await open('a'))[0]).toMatchObject({ code: status.RESOURCE_EXHAUSTED });
    expect(await open('b')).toEqual([]);
    expect((await open('c'))[0]).toMatchObject({ code: status.UNAVAILABLE });
    watch.endAll();
  });

  it('keeps an ended stream\'s slot until the call is over: a caller that does not read holds its ended streams open, and cannot open more in their place', async () => {
    const limits = new StreamLimits(10, 1);
    // A token that expires at once ends the stream (UNAUTHENTICATED); the stream watches nothing.
    const watch = watchSettings({ limits, authenticate: async () => ({ subject: 'caller', accounts: 'all', scopes: new Set(API_SCOPES), expiresAt: Date.now() }) });
    const errors: Array<{ code?: number; details?: string }> = [];
    const call = Object.assign(new EventEmitter(), { metadata: new Metadata(), request: { targets: [] }, write: () => true });
    call.on('error', (e: { code?: number; details?: string }) => errors.push(e));
    watch.handler(call as unknown as Parameters<WatchSettings['handler']>[0]);
    await new Promise((r) => setTimeout(r, 20));
    expect(errors[0]).toMatchObject({ code: status.UNAUTHENTICATED });
    // grpc-js sends the status only after the messages the caller has not read yet (HTTP/2 flow
    // control), and emits 'cancelled' once it is sent: until then the stream is open.
    expect(limits.open).toBe(1);
    call.emit('cancelled');
    expect(limits.open).toBe(0);
  });
});
