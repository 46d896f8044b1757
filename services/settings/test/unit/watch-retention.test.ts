import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { KeyChangeBroadcast } from '../../src/watch/key-change-feed';
import { WatchHub } from '../../src/watch/watch-hub';
import type { Observed } from '../../src/watch/watch-topic';
import { Watcher, type WatchSink, type WatchTarget } from '../../src/watch/watcher';

/**
 * What a closed watcher leaves behind while others still watch its keys. A topic is created by
 * the first watcher of its key and lives as long as anyone watches; if its closures kept that
 * first watcher, a busy key (clients reconnecting through rolling restarts) would pin its first
 * stream's watcher, sink and last states for as long as the key is watched.
 *
 * Garbage is collected on demand (V8's gc, exposed at run time) and a WeakRef to the closed
 * watcher and its sink tells whether they were collected.
 */
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;
const tick = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
};

class Sink implements WatchSink<string> {
  write(): boolean {
    return true;
  }
  onceDrained(fn: () => void): void {
    queueMicrotask(fn);
  }
}

const target = (key: string): WatchTarget<unknown, string> => ({
  name: key,
  key,
  generationKey: 'gen',
  read: async (): Promise<Observed<unknown>> => ({ version: 1n, state: 'state' }),
  render: () => ['message'],
});

describe('Watch retention', () => {
  it('a closed watcher is not kept alive by a topic another watcher still uses', async () => {
    const feed = new KeyChangeBroadcast();
    feed.resumed();
    const hub = new WatchHub(feed, { retryMs: 10, onReadError: () => undefined });
    const open = (): Watcher<string> => {
      const w = new Watcher<string>(hub, new Sink(), { progressMessage: () => 'bookmark' });
      w.start([target('k:shared')]);
      return w;
    };
    // The first watcher creates the topic; the second shares it.
    let first: Watcher<string> | undefined = open();
    const firstRef = new WeakRef(first);
    const second = open();
    await tick();
    first.close();
    first = undefined;
    await tick();
    collectGarbage();
    expect(hub.topicCount).toBe(1);
    expect(firstRef.deref()).toBeUndefined();
    second.close();
    hub.close();
  });

  it('a closed watcher still referenced by its stream (a caller that stopped reading) holds none of the states it was sent', async () => {
    const feed = new KeyChangeBroadcast();
    feed.resumed();
    const hub = new WatchHub(feed, { retryMs: 10, onReadError: () => undefined });
    let version = 1n;
    let state: { big: string } | undefined = { big: 'x'.repeat(1 << 20) };
    const stateRef = new WeakRef(state);
    const t: WatchTarget<unknown, string> = { ...target('k:big'), read: async () => ({ version, state: version === 1n ? state : { big: 'y' } }) };
    // The stream keeps the watcher (its write callbacks wait for a caller that does not read).
    const blocked: WatchSink<string> = { write: () => false, onceDrained: () => undefined };
    const w = new Watcher<string>(hub, blocked, { progressMessage: () => 'bookmark' });
    w.start([t]);
    await tick();
    state = undefined;
    version = 2n;
    feed.changed(['k:big']);
    await tick();
    w.close();
    hub.close();
    await tick();
    collectGarbage();
    expect(stateRef.deref()).toBeUndefined();
    // `w` is still referenced here, as the stream would.
    expect(w).toBeDefined();
  });
});
