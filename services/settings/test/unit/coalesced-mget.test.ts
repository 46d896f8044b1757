import { CoalescedMget, type MgetClient } from '../../src/cache/coalesced-mget';

/** Records each MGET it receives and answers from a map, or fails while `down`. */
class RecordingRedis implements MgetClient {
  readonly sent: string[][] = [];
  readonly store = new Map<string, Buffer>();
  down = false;
  mgetBuffer(...keys: string[]): Promise<Array<Buffer | null>> {
    this.sent.push(keys);
    if (this.down) return Promise.reject(new Error('Command timed out'));
    return Promise.resolve(keys.map((k) => this.store.get(k) ?? null));
  }
}

const text = (values: Array<Buffer | null>) => values.map((v) => v?.toString() ?? null);

describe('CoalescedMget', () => {
  it('sends the lookups of one turn of the event loop as one MGET naming each key once', async () => {
    const redis = new RecordingRedis();
    redis.store.set('gen', Buffer.from('7'));
    redis.store.set('a', Buffer.from('A'));
    redis.store.set('b', Buffer.from('B'));
    const mget = new CoalescedMget(redis);
    const replies = await Promise.all([mget.mget(['gen', 'a']), mget.mget(['gen', 'b']), mget.mget(['gen', 'a', 'missing'])]);
    expect(redis.sent).toEqual([['gen', 'a', 'b', 'missing']]);
    expect(replies.map(text)).toEqual([
      ['7', 'A'],
      ['7', 'B'],
      ['7', 'A', null],
    ]);
  });

  it('a lookup made after the batch was sent goes in the next MGET', async () => {
    const redis = new RecordingRedis();
    const mget = new CoalescedMget(redis);
    await mget.mget(['gen', 'a']);
    await mget.mget(['gen', 'b']);
    expect(redis.sent).toEqual([
      ['gen', 'a'],
      ['gen', 'b'],
    ]);
  });

  it('keeps each call\'s keys in one MGET, and sends the calls beyond the cap in the next', async () => {
    const redis = new RecordingRedis();
    const mget = new CoalescedMget(redis, 2);
    await Promise.all([mget.mget(['g', 'a']), mget.mget(['g', 'b']), mget.mget(['g', 'c'])]);
    expect(redis.sent).toEqual([['g', 'a', 'b'], ['g', 'c']]);
  });

  it('a failed MGET fails every lookup in it, and the next batch is tried afresh', async () => {
    const redis = new RecordingRedis();
    const mget = new CoalescedMget(redis);
    redis.down = true;
    const failed = await Promise.allSettled([mget.mget(['g', 'a']), mget.mget(['g', 'b'])]);
    expect(failed.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    redis.down = false;
    await expect(mget.mget(['g', 'a'])).resolves.toEqual([null, null]);
    expect(redis.sent).toHaveLength(2);
  });
});
