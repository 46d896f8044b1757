import { createLogger } from '@settings/shared';
import { deleteGroups, withAdmin } from '@settings/local-stack';
import { startInvalidator, type RunningInvalidator } from '../../src/invalidator';
import { positionGroupAtEnd, testConfig, uniqueId, waitFor } from '../support/test-invalidator';

/**
 * README, failure modes, "kafkajs consumer crash": a replica stopped while its consumer restarts
 * after a crash stays stopped and leaves its group. Against the real broker; the crash is made
 * in kafkajs itself (its ConsumerGroup's join fails once with a connection error, which kafkajs
 * treats as retriable), since a broker fault cannot be timed to the millisecond. Before, kafkajs
 * restarted the consumer on its own timer, which a stop() could miss: armed after the crash's
 * disconnect (the stop() that ran during the crash cleared nothing), or joining when stop() came
 * (a consumer that has not joined yet does not leave). Either way the stopped replica joined its
 * group again: a member given partitions that nobody consumed until its session timed out.
 */
jest.setTimeout(60_000);

// kafkajs' own module, the one the invalidator's kafkajs loads (jest's registry is per file).
// eslint-disable-next-line @typescript-eslint/no-require-imports -- an internal kafkajs module, untyped
const ConsumerGroup = require('kafkajs/src/consumer/consumerGroup') as { prototype: { joinAndSync(this: { groupId: string }): Promise<void> } };
// eslint-disable-next-line @typescript-eslint/no-require-imports -- kafkajs' error classes are not exported with their constructors' options
const { KafkaJSConnectionError, KafkaJSNonRetriableError } = require('kafkajs/src/errors') as { KafkaJSConnectionError: new (message: string) => Error; KafkaJSNonRetriableError: new (message: string) => Error };

const realJoin = ConsumerGroup.prototype.joinAndSync;
/** What the next joins of the group under test do instead of joining at once (then the real join, unless it threw). */
let joinPlan: Array<() => Promise<void>> = [];
let groupUnderTest = '';
/** Join attempts of the group under test, each with when it began. */
let joins: number[] = [];

beforeAll(() => {
  ConsumerGroup.prototype.joinAndSync = async function (this: { groupId: string }) {
    if (this.groupId === groupUnderTest) {
      joins.push(Date.now());
      const step = joinPlan.shift();
      if (step) await step();
    }
    return realJoin.call(this);
  };
});
afterAll(() => {
  ConsumerGroup.prototype.joinAndSync = realJoin;
});

const members = (groupId: string) => withAdmin('test-crash-restart', async (admin) => (await admin.describeGroups([groupId])).groups[0]!.members.length);
const crash = (): Promise<void> => Promise.reject(new KafkaJSConnectionError('test: connection lost during the join'));

describe('stopped while its consumer restarts after a crash', () => {
  let running: RunningInvalidator | undefined;
  let groupId = '';

  beforeEach(async () => {
    groupId = uniqueId('test-crash-restart-');
    groupUnderTest = groupId;
    await positionGroupAtEnd(groupId);
  });
  afterEach(async () => {
    joinPlan = [];
    await running?.stop().catch(() => undefined);
    running = undefined;
    await deleteGroups([groupId]);
  });

  const start = async (): Promise<RunningInvalidator> => {
    const config = testConfig({ KAFKA_GROUP_ID: groupId, KAFKA_SESSION_TIMEOUT_MS: '30000' });
    // Only the invalidator's joins (positioning the group above joined it too).
    joins = [];
    running = await startInvalidator(config, createLogger('test-invalidator', config.LOG_LEVEL));
    return running;
  };

  it('stop() during the crash, before the restart is scheduled: no join once stop() was called, no member left', async () => {
    // The first join crashes; the restart's join crashes again, and stop() is called from within
    // that crash (kafkajs' crash handling then disconnects and decides whether to restart).
    let stopped: Promise<void> | undefined;
    let joinsAtStop = 0;
    joinPlan = [
      crash,
      () => {
        stopped = running!.stop();
        joinsAtStop = joins.length;
        return crash();
      },
    ];
    await start();
    await waitFor(() => stopped !== undefined, 10_000, 'the restart joining');
    await stopped;
    // kafkajs restarted 300 ms after a crash, while stop() was still disconnecting (about a
    // second): wait well past both. Seen before: a join attempt 300 ms after stop() was called.
    await new Promise((r) => setTimeout(r, 2000));
    expect(joins.length).toBe(joinsAtStop);
    expect(running!.consumer.joined).toBe(false);
    expect(await members(groupId)).toBe(0);
  });

  it('stop() while the restart joins: no member is left in the group once stop() resolves, and nothing joins after', async () => {
    let release: () => void = () => undefined;
    let restartJoining: () => void = () => undefined;
    const joining = new Promise<void>((resolve) => (restartJoining = resolve));
    joinPlan = [
      crash,
      () => {
        restartJoining();
        return new Promise<void>((resolve) => (release = resolve));
      },
    ];
    const inv = await start();
    await joining;
    const stopped = inv.stop();
    // The join goes on (as a join the broker holds would) after stop() was called.
    setTimeout(() => release(), 500);
    await stopped;
    const joinsAtStop = joins.length;
    // Left at once: the broker would otherwise keep the member until its 30 s session timed out.
    expect(await members(groupId)).toBe(0);
    await new Promise((r) => setTimeout(r, 2000));
    expect(joins.length).toBe(joinsAtStop);
    expect(await members(groupId)).toBe(0);
  });

  it('a crash while running is restarted by the consumer itself: it joins again and stays ready', async () => {
    joinPlan = [crash];
    const inv = await start();
    await waitFor(() => inv.consumer.joined, 15_000, 'joined after the restart');
    expect(inv.consumer.state).toBe('running');
    expect(joins.length).toBeGreaterThanOrEqual(2);
    expect(await members(groupId)).toBe(1);
  });

  it('a crash it cannot recover from during its first join leaves it crashed (liveness red), not running', async () => {
    // E.g. GROUP_AUTHORIZATION_FAILED: kafkajs does not restart it, and run() returns anyway.
    joinPlan = [() => Promise.reject(new KafkaJSNonRetriableError('test: not authorized to join the group'))];
    const inv = await start();
    expect(inv.consumer.state).toBe('crashed');
    await new Promise((r) => setTimeout(r, 1000));
    expect(joins.length).toBe(1);
    expect(inv.consumer.state).toBe('crashed');
    expect((await fetch(`http://127.0.0.1:${inv.httpPort}/healthz`)).status).toBe(503);
  });
});
