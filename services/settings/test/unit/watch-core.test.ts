import { flushBoundedSink } from '../../src/watch/flush-bounded-sink';
import { KeyChangeBroadcast } from '../../src/watch/key-change-feed';
import { WatchHub } from '../../src/watch/watch-hub';
import type { Observed } from '../../src/watch/watch-topic';
import { Watcher, type Sent, type WatchSink, type WatchTarget } from '../../src/watch/watcher';

type Msg = { kind: 'state'; name: string; version: bigint; from: Sent<string>['kind'] | 'unknown base' } | { kind: 'progress'; versions: string };

const tick = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
};

/** A resource whose reads the test controls: each read waits for the test to answer it. */
class FakeRow {
  reads = 0;
  private waiting: Array<(o: Observed<string>) => void> = [];
  constructor(public current: Observed<string>) {}
  read = (): Promise<Observed<string>> => {
    this.reads++;
    return new Promise((resolve) => this.waiting.push(resolve));
  };
  /** Answers every pending read with `o` (default: the current row). */
  answer(o: Observed<string> = this.current): void {
    const w = this.waiting;
    this.waiting = [];
    for (const r of w) r(o);
  }
  get pendingReads(): number {
    return this.waiting.length;
  }
}

class FakeSink implements WatchSink<Msg> {
  out: Msg[] = [];
  full = false;
  private drained: Array<() => void> = [];
  write(m: Msg): boolean {
    this.out.push(m);
    return !this.full;
  }
  onceDrained(fn: () => void): void {
    this.drained.push(fn);
  }
  drain(): void {
    this.full = false;
    const d = this.drained;
    this.drained = [];
    for (const fn of d) fn();
  }
}

const v = (version: number, state: string | undefined = `s${version}`): Observed<string> => ({ version: BigInt(version), state });
const target = (name: string, row: FakeRow, resumeVersion?: bigint): WatchTarget<unknown, Msg> => ({
  name,
  key: `k:${name}`,
  generationKey: 'gen',
  resumeVersion,
  read: row.read,
  render: (sent, latest) =>
    sent.kind === 'resume' && sent.version === latest.version ? [] : [{ kind: 'state', name, version: latest.version, from: sent.kind === 'state' && sent.baseUnknown ? 'unknown base' : sent.kind }],
});
const progress = (versions: ReadonlyArray<{ name: string; version: bigint }>): Msg => ({ kind: 'progress', versions: versions.map((x) => `${x.name}@${x.version}`).join(',') });

function setUp(): { feed: KeyChangeBroadcast; hub: WatchHub } {
  const feed = new KeyChangeBroadcast();
  feed.resumed();
  return { feed, hub: new WatchHub(feed, { retryMs: 10, onReadError: () => undefined }) };
}

/** One watcher of `a` whose first read answered `initial`: it has been sent that state. */
async function watchingFirstState(initial: Observed<string>): Promise<{ feed: KeyChangeBroadcast; hub: WatchHub; row: FakeRow; sink: FakeSink }> {
  const { feed, hub } = setUp();
  const row = new FakeRow(initial);
  const sink = new FakeSink();
  new Watcher(hub, sink, { progressMessage: progress }).start([target('a', row)]);
  await tick();
  row.answer();
  await tick();
  return { feed, hub, row, sink };
}

describe('Watch core: one upstream read per change, latest state coalesced, never backwards', () => {
  it('sends the current state first, then each change, reading once per change for all watchers of a key', async () => {
    const { feed, hub } = setUp();
    const row = new FakeRow(v(1));
    const sinks = [new FakeSink(), new FakeSink(), new FakeSink()];
    const watchers = sinks.map((s) => new Watcher(hub, s, { progressMessage: progress }));
    for (const w of watchers) w.start([target('a', row)]);
    await tick();
    expect(row.reads).toBe(1);
    row.answer();
    await tick();
    for (const s of sinks) expect(s.out).toEqual([{ kind: 'state', name: 'a', version: 1n, from: 'nothing' }]);
    row.current = v(2);
    feed.changed(['k:a']);
    await tick();
    row.answer();
    await tick();
    expect(row.reads).toBe(2);
    for (const s of sinks) expect(s.out.map((m) => (m.kind === 'state' ? m.version : m.kind))).toEqual([1n, 2n]);
  });

  it('a slow watcher gets only the newest state when it drains, not every version in between', async () => {
    const { feed, hub } = setUp();
    const row = new FakeRow(v(1));
    const slow = new FakeSink();
    const w = new Watcher(hub, slow, { progressMessage: progress });
    w.start([target('a', row)]);
    await tick();
    slow.full = true;
    row.answer();
    await tick();
    for (let version = 2; version <= 50; version++) {
      row.current = v(version);
      feed.changed(['k:a']);
      await tick();
      row.answer();
      await tick();
    }
    expect(slow.out).toHaveLength(1);
    slow.drain();
    await tick();
    expect(slow.out.map((m) => (m.kind === 'state' ? m.version : m.kind))).toEqual([1n, 50n]);
  });

  it('a read that started before a newer delivery can never take watchers back to an older version', async () => {
    const { feed, hub } = setUp();
    const row = new FakeRow(v(5));
    const sink = new FakeSink();
    new Watcher(hub, sink, { progressMessage: progress }).start([target('a', row)]);
    await tick();
    feed.changed(['k:a']); // arrives during the first read: one more read follows
    row.answer(v(5));
    await tick();
    row.answer(v(4)); // an older answer (e.g. an old fill seen through a lagging path)
    await tick();
    expect(sink.out.map((m) => (m.kind === 'state' ? m.version : m.kind))).toEqual([5n]);
  });

  it('a disappearance is delivered only by a read no change overlapped', async () => {
    const { feed, row, sink } = await watchingFirstState(v(3));
    feed.changed(['k:a']);
    await tick();
    feed.changed(['k:a']); // overlaps the read below
    row.answer({ version: 0n, state: undefined });
    await tick();
    expect(sink.out).toHaveLength(1);
    row.answer(v(4));
    await tick();
    expect(sink.out.map((m) => (m.kind === 'state' ? m.version : m.kind))).toEqual([3n, 4n]);
  });

  it('a resumed caller that is current gets a bookmark at once, one that missed changes gets the current state', async () => {
    const { hub } = setUp();
    const row = new FakeRow(v(7));
    const current = new FakeSink();
    const behind = new FakeSink();
    new Watcher(hub, current, { progressMessage: progress }).start([target('a', row, 7n)]);
    new Watcher(hub, behind, { progressMessage: progress }).start([target('a', row, 3n)]);
    await tick();
    row.answer();
    await tick();
    expect(current.out).toEqual([{ kind: 'progress', versions: 'a@7' }]);
    expect(behind.out).toEqual([{ kind: 'state', name: 'a', version: 7n, from: 'resume' }]);
  });

  it('a resumed caller ahead of this replica gets nothing, not even a bookmark, until the replica hears of the change: then a bookmark, never the older state', async () => {
    const { feed, hub } = setUp();
    const row = new FakeRow(v(4));
    const sink = new FakeSink();
    const holds: string[] = [];
    const w = new Watcher(hub, sink, { progressMessage: progress, resumeHoldMs: 60_000, onResumeHold: (o) => holds.push(o) });
    w.start([target('a', row, 5n)]);
    await tick();
    row.answer();
    await tick();
    expect(w.progress()).toBe(false);
    expect(sink.out).toEqual([]);
    row.current = v(5);
    feed.changed(['k:a']);
    await tick();
    row.answer();
    await tick();
    expect(sink.out).toEqual([{ kind: 'progress', versions: 'a@5' }]);
    expect(holds).toEqual(['caught_up']);
    w.close();
  });

  it('a resumed target held because the replica is behind gets the replica\'s state once the hold expires (a token from before a restore is ahead of every version); a deletion is never held', async () => {
    jest.useFakeTimers({ doNotFake: ['setImmediate', 'queueMicrotask', 'nextTick'] });
    try {
      const { hub } = setUp();
      const row = new FakeRow(v(4));
      const gone = new FakeRow(v(0, undefined));
      const sink = new FakeSink();
      const holds: string[] = [];
      const w = new Watcher(hub, sink, { progressMessage: progress, resumeHoldMs: 1000, onResumeHold: (o) => holds.push(o) });
      w.start([target('a', row, 9n), target('b', gone, 9n)]);
      await tick();
      row.answer();
      gone.answer();
      await tick();
      expect(sink.out).toEqual([{ kind: 'state', name: 'b', version: 0n, from: 'resume' }]);
      jest.advanceTimersByTime(999);
      await tick();
      expect(sink.out).toHaveLength(1);
      jest.advanceTimersByTime(1);
      await tick();
      expect(sink.out).toEqual([
        { kind: 'state', name: 'b', version: 0n, from: 'resume' },
        { kind: 'state', name: 'a', version: 4n, from: 'resume' },
      ]);
      expect(holds).toEqual(['expired']);
      w.close();
    } finally {
      jest.useRealTimers();
    }
  });

  it('a state older than the caller\'s resume token is no base for the next change: that one is rendered as if nothing had been sent (the caller may have ignored the older state)', async () => {
    const { feed, hub } = setUp();
    const row = new FakeRow(v(4));
    const sink = new FakeSink();
    const w = new Watcher(hub, sink, { progressMessage: progress }); // no hold: the older state goes out at once
    w.start([target('a', row, 6n)]);
    await tick();
    row.answer();
    await tick();
    for (const next of [v(5), v(7), v(8)]) {
      row.current = next;
      feed.changed(['k:a']);
      await tick();
      row.answer();
      await tick();
    }
    expect(sink.out).toEqual([
      { kind: 'state', name: 'a', version: 4n, from: 'resume' },
      { kind: 'state', name: 'a', version: 5n, from: 'unknown base' },
      { kind: 'state', name: 'a', version: 7n, from: 'unknown base' },
      { kind: 'state', name: 'a', version: 8n, from: 'state' },
    ]);
    w.close();
  });

  it('a resumed caller that opened while the replica was deaf gets its bookmark as soon as tracking is back and the re-read settles', async () => {
    const feed = new KeyChangeBroadcast(); // not live yet: tracking still being set up
    const hub = new WatchHub(feed, { retryMs: 10, onReadError: () => undefined });
    const row = new FakeRow(v(7));
    const sink = new FakeSink();
    new Watcher(hub, sink, { progressMessage: progress }).start([target('a', row, 7n)]);
    await tick();
    row.answer();
    await tick();
    expect(sink.out).toEqual([]); // not live: "current" cannot be claimed
    feed.resumed();
    await tick();
    expect(sink.out).toEqual([]); // the re-read after the reset is in flight
    row.answer();
    await tick();
    expect(sink.out).toEqual([{ kind: 'progress', versions: 'a@7' }]);
  });

  it('re-reads every watched key when tracking comes back, and sends no bookmark while it is lost', async () => {
    const { feed, hub } = setUp();
    const row = new FakeRow(v(1));
    const sink = new FakeSink();
    const w = new Watcher(hub, sink, { progressMessage: progress });
    w.start([target('a', row)]);
    await tick();
    row.answer();
    await tick();
    feed.lost();
    expect(w.progress()).toBe(false);
    row.current = v(2); // changed while pushes were lost
    feed.resumed();
    await tick();
    expect(row.pendingReads).toBe(1);
    row.answer();
    await tick();
    expect(sink.out.map((m) => (m.kind === 'state' ? m.version : m.kind))).toEqual([1n, 2n]);
    expect(w.progress()).toBe(true);
  });

  it('a watcher that opens while tracking is lost gets a fresh read, not the state its topic read before the loss', async () => {
    const { feed, hub, row } = await watchingFirstState(v(1));
    feed.lost();
    row.current = v(2); // changed while pushes were lost: the topic's v1 may be stale
    const late = new FakeSink();
    new Watcher(hub, late, { progressMessage: progress }).start([target('a', row)]);
    await tick();
    expect(late.out).toEqual([]); // not v1: this replica cannot know v1 is still current
    expect(row.pendingReads).toBe(1);
    row.answer();
    await tick();
    expect(late.out).toEqual([{ kind: 'state', name: 'a', version: 2n, from: 'nothing' }]);
  });

  it('a watcher that opens while tracking is lost gets its first state even when the re-read finds the version its topic already had', async () => {
    const { feed, hub, row, sink: first } = await watchingFirstState(v(1));
    feed.lost(); // nothing changes meanwhile
    const late = new FakeSink();
    new Watcher(hub, late, { progressMessage: progress }).start([target('a', row)]);
    await tick();
    expect(row.pendingReads).toBe(1);
    row.answer();
    await tick();
    // Not news to the first watcher, but the newcomer's first state.
    expect(late.out).toEqual([{ kind: 'state', name: 'a', version: 1n, from: 'nothing' }]);
    expect(first.out.map((m) => (m.kind === 'state' ? m.version : m.kind))).toEqual([1n]);
  });

  it('a singleton re-read at the version it delivered replaces the state its watchers hold, sending nothing: one copy per key (the near-cache\'s), not also the first load\'s; a list keeps what it sent, its base for deltas', async () => {
    const heldState = async (sameVersionSameState: boolean): Promise<{ state: unknown; sent: number }> => {
      const { feed, hub } = setUp();
      const row = new FakeRow(v(1, 'loaded from PostgreSQL'));
      const sink = new FakeSink();
      const rendered: Array<Observed<unknown>> = [];
      const plain = target('a', row);
      const watched: WatchTarget<unknown, Msg> = { ...plain, sameVersionSameState, render: (sent, latest) => (rendered.push(latest), plain.render(sent, latest)) };
      new Watcher(hub, sink, { progressMessage: progress }).start([watched]);
      await tick();
      row.answer();
      await tick();
      // The fill's own tracking push: the same version, read back from Redis.
      feed.changed(['k:a']);
      await tick();
      row.answer(v(1, 'decoded from Redis'));
      await tick();
      return { state: rendered[0]!.state, sent: sink.out.length };
    };
    expect(await heldState(true)).toEqual({ state: 'decoded from Redis', sent: 1 });
    expect(await heldState(false)).toEqual({ state: 'loaded from PostgreSQL', sent: 1 });
  });

  it('a generation change (TRUNCATE) delivers the re-read even at the same version: a truncated grant table empties a list without bumping its version', async () => {
    const { feed, row, sink } = await watchingFirstState(v(4, 'two grants'));
    feed.changed(['gen']);
    await tick();
    row.answer(v(4, 'no grants'));
    await tick();
    expect(sink.out.map((m) => (m.kind === 'state' ? m.version : m.kind))).toEqual([4n, 4n]);
    // A plain change of the key itself at the same version (another replica's fill) sends nothing.
    feed.changed(['k:a']);
    await tick();
    row.answer(v(4, 'no grants'));
    await tick();
    expect(sink.out).toHaveLength(2);
  });

  it('a generation renewal after a PostgreSQL restore delivers the lower version it reads back, and a new watcher gets that one, not the lost state; the next change after the rewind is sent whole', async () => {
    const { feed, hub, row, sink } = await watchingFirstState(v(100));
    // PostgreSQL restored to a point where the resource was at v90; the runbook renews the generation.
    feed.changed(['gen']);
    await tick();
    row.answer(v(90));
    await tick();
    expect(sink.out.map((m) => (m.kind === 'state' ? m.version : m.kind))).toEqual([100n, 90n]);
    const late = new FakeSink();
    new Watcher(hub, late, { progressMessage: progress }).start([target('a', row)]);
    await tick();
    expect(late.out).toEqual([{ kind: 'state', name: 'a', version: 90n, from: 'nothing' }]);
    // The caller may have ignored v90 (it keeps the highest version seen): v91 is no delta from it.
    feed.changed(['k:a']);
    await tick();
    row.answer(v(91));
    await tick();
    expect(sink.out[2]).toEqual({ kind: 'state', name: 'a', version: 91n, from: 'unknown base' });
  });

  it('a generation renewal whose re-read a change overlapped keeps the next read forced: the lower version is delivered once a read is clean', async () => {
    const { feed, row, sink } = await watchingFirstState(v(100));
    feed.changed(['gen']);
    await tick();
    feed.changed(['k:a']); // overlaps the forced read
    row.answer(v(90));
    await tick();
    expect(sink.out).toHaveLength(1);
    row.answer(v(90));
    await tick();
    expect(sink.out.map((m) => (m.kind === 'state' ? m.version : m.kind))).toEqual([100n, 90n]);
  });

  it('every watcher that opens while tracking is lost gets a read of its own, not only the first one since the loss', async () => {
    const { feed, hub, row } = await watchingFirstState(v(1));
    feed.lost();
    const a = new FakeSink();
    new Watcher(hub, a, { progressMessage: progress }).start([target('a', row)]);
    await tick();
    row.answer(v(1));
    await tick();
    expect(a.out).toEqual([{ kind: 'state', name: 'a', version: 1n, from: 'nothing' }]);
    row.current = v(2); // committed while pushes are lost
    const b = new FakeSink();
    new Watcher(hub, b, { progressMessage: progress }).start([target('a', row)]);
    await tick();
    expect(b.out).toEqual([]); // not A's v1: it may be stale by now
    expect(row.pendingReads).toBe(1);
    row.answer();
    await tick();
    expect(b.out).toEqual([{ kind: 'state', name: 'a', version: 2n, from: 'nothing' }]);
  });

  it('a key first watched while tracking is lost: its second watcher gets a read of its own too, not the first one\'s state', async () => {
    const { feed, hub } = setUp();
    feed.lost();
    const row = new FakeRow(v(1));
    new Watcher(hub, new FakeSink(), { progressMessage: progress }).start([target('a', row)]);
    await tick();
    row.answer();
    await tick();
    row.current = v(2); // committed while pushes are lost
    const second = new FakeSink();
    new Watcher(hub, second, { progressMessage: progress }).start([target('a', row)]);
    await tick();
    expect(second.out).toEqual([]);
    row.answer();
    await tick();
    expect(second.out).toEqual([{ kind: 'state', name: 'a', version: 2n, from: 'nothing' }]);
  });

  it('a slow caller gets every target\'s state in turn: targets that change before each drain do not starve a later one', async () => {
    const { feed, hub } = setUp();
    const rows = { a: new FakeRow(v(1)), b: new FakeRow(v(1)), c: new FakeRow(v(1)) };
    // A gRPC stream whose messages the caller takes only when the test says (flushBoundedSink's
    // write callbacks), so the sink is full after two messages.
    const written: Msg[] = [];
    let flushed: Array<() => void> = [];
    const stream = { write: (m: Msg, done: () => void) => (written.push(m), flushed.push(done), true) };
    const release = (): void => {
      const f = flushed;
      flushed = [];
      for (const done of f) done();
    };
    new Watcher(hub, flushBoundedSink(stream), { progressMessage: progress }).start([target('a', rows.a), target('b', rows.b), target('c', rows.c)]);
    await tick();
    for (const r of Object.values(rows)) r.answer();
    await tick();
    for (let version = 2; version <= 6; version++) {
      for (const name of ['a', 'b'] as const) {
        rows[name].current = v(version);
        feed.changed([`k:${name}`]);
        await tick();
        rows[name].answer();
      }
      await tick();
      release();
      await tick();
    }
    expect(written.filter((m) => m.kind === 'state' && m.name === 'c')).toEqual([{ kind: 'state', name: 'c', version: 1n, from: 'nothing' }]);
  });

  it('a generation change (TRUNCATE) re-reads every watched key of its space; the last watcher leaving drops the topic', async () => {
    const { feed, hub } = setUp();
    const row = new FakeRow(v(1));
    const w = new Watcher(hub, new FakeSink(), { progressMessage: progress });
    w.start([target('a', row)]);
    await tick();
    row.answer();
    await tick();
    feed.changed(['gen']);
    await tick();
    expect(row.reads).toBe(2);
    row.answer();
    await tick();
    w.close();
    expect(hub.topicCount).toBe(0);
  });
});

describe('WatchHub read slots', () => {
  it('does not read a key whose watchers all left while its read waited for a slot', async () => {
    const feed = new KeyChangeBroadcast();
    feed.resumed();
    const hub = new WatchHub(feed, { retryMs: 10, onReadError: () => undefined, maxConcurrentReads: 1 });
    // The one read slot, taken by a slow read.
    const slow = new FakeRow(v(1));
    const stay = hub.subscribe('slow', 'gen', slow.read, () => undefined);
    await tick();
    expect(slow.pendingReads).toBe(1);
    // A caller opens and cancels a stream on another key, again and again.
    const churned = new FakeRow(v(1));
    for (let i = 0; i < 100; i++) hub.subscribe('churned', 'gen', churned.read, () => undefined)();
    slow.answer();
    await tick();
    // Each open queued a read; none runs once nobody watches (they used to run, one after
    // another as each finished, all 100).
    expect(churned.reads).toBe(0);
    expect(hub.topicCount).toBe(1);
    stay();
  });
});
