import type { ChildProcess } from 'node:child_process';
import type { Consumer } from 'kafkajs';
import { changeTopics, deleteGroups, localKafka, positionGroupAtEnd, withAdmin } from '@settings/local-stack';
import { exited, killIfRunning, startInvalidatorChild } from '../support/invalidator-child';
import { uniqueId, waitFor } from '../support/test-invalidator';

/**
 * README, failure modes, SIGTERM during start-up: a replica told to stop while its consumer
 * group join is held by the broker (a rolling update: the join waits until the other members
 * rejoin) finishes the join, then leaves the group and exits 0. Exiting at once (as before), it
 * stayed a member of the next generation, was given partitions and left them unread until its
 * session timed out. Member A here rejoins slowly (a 3 s heartbeat), so the invalidator's join
 * is held long enough to signal it mid-join.
 */
jest.setTimeout(90_000);
const groupId = uniqueId('test-join-term-');
let member: Consumer | undefined;
let child: ChildProcess | undefined;

afterAll(async () => {
  await killIfRunning(child);
  await member?.disconnect();
  await deleteGroups([groupId]);
});

const describeGroup = () => withAdmin('test-join-term', async (admin) => (await admin.describeGroups([groupId])).groups[0]!);

it('SIGTERM while its group join is held: exits 0 and the group is stable with the other member alone within 7 s of its exit; no dead member keeps partitions', async () => {
  await positionGroupAtEnd(groupId);
  member = localKafka('test-join-term-member').consumer({ groupId, sessionTimeout: 30_000, heartbeatInterval: 3000, rebalanceTimeout: 20_000, maxWaitTimeInMs: 1000 });
  await member.connect();
  const joined = new Promise<void>((resolve) => member!.on(member!.events.GROUP_JOIN, () => resolve()));
  await member.subscribe({ topics: [...changeTopics], fromBeginning: false });
  await member.run({ autoCommit: false, eachBatchAutoResolve: false, eachBatch: async () => undefined });
  await joined;
  await waitFor(async () => (await describeGroup()).state === 'Stable', 20_000, 'the group stable with member A');

  child = startInvalidatorChild(groupId);
  // Its JoinGroup starts a rebalance that waits for A's next heartbeat: signal it then.
  await waitFor(async () => (await describeGroup()).state === 'PreparingRebalance', 60_000, 'the invalidator joining (a rebalance under way)');
  child.kill('SIGTERM');
  expect(await exited(child)).toBe(0);

  // The group settles with A alone sooner than the invalidator's session timeout (8 s,
  // startInvalidatorChild): it left, rather than being waited out as a dead member of the next
  // generation (exiting mid-join, A was alone again only after ~12 s: seen).
  await waitFor(
    async () => {
      const g = await describeGroup();
      return g.state === 'Stable' && g.members.length === 1;
    },
    7000,
    'the group stable with A alone, before a dead member could have timed out',
  );
  const g = await describeGroup();
  expect(g.members.map((m) => m.clientId)).toEqual(['test-join-term-member']);
});
