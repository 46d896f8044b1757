import type { TopicOffsets } from '@settings/local-stack';
import { replicaOffsets } from '../../src/invalidator-drain';

const offsets = (entries: Array<[string, string[]]>): TopicOffsets => new Map(entries.map(([topic, offs]) => [topic, offs.map((offset, partition) => ({ partition, offset }))]));

describe('replicaOffsets: each replica gets the backlog of exactly the partitions it would own', () => {
  const before = offsets([
    ['settings.public.account_settings', ['10', '20', '30']],
    ['settings.public.doctor_settings', ['0', '0', '0']],
  ]);
  const after = offsets([
    ['settings.public.account_settings', ['110', '120', '130']],
    ['settings.public.doctor_settings', ['0', '0', '0']],
  ]);

  test('three replicas of three partitions: one partition each', () => {
    const positions = [0, 1, 2].map((r) => replicaOffsets(before, after, r, 3).get('settings.public.account_settings')!.map((p) => p.offset));
    expect(positions).toEqual([
      ['10', '120', '130'],
      ['110', '20', '130'],
      ['110', '120', '30'],
    ]);
  });

  test('every partition of every topic is left at its backlog start by exactly one replica', () => {
    for (const replicas of [1, 2, 3]) {
      for (const [topic, parts] of before) {
        for (const { partition, offset } of parts) {
          const owners = Array.from({ length: replicas }, (_, r) => replicaOffsets(before, after, r, replicas)).filter((o) => o.get(topic)!.find((p) => p.partition === partition)!.offset === offset);
          // A partition with no backlog (start = end) is "owned" by everyone; otherwise by one.
          const end = after.get(topic)!.find((p) => p.partition === partition)!.offset;
          expect(owners.length).toBe(end === offset ? replicas : 1);
        }
      }
    }
  });

  test('one replica keeps the whole backlog', () => {
    expect(replicaOffsets(before, after, 0, 1)).toEqual(before);
  });
});
