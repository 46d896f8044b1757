import { cacheKeys, generationKey, servedGeneration } from '@settings/shared';
import { inspectResource } from '../../src/admin/inspect-resource';
import type { RowVersionSource } from '../../src/audit/row-versions';

/**
 * `inspect` judges an entry as the releases that read it serve it: during a rolling update the
 * entry may be another release's payload format (payload-generation.ts). Pure: Redis and the
 * row versions are fakes.
 */
const REDIS_GENERATION = 123_456_789n;
const account = 'acct-1';
const name = `accounts/${account}/settings`;
const { key } = cacheKeys.accountSettings(account);

function fakes(entry: { version: bigint; generation: bigint } | undefined, rowVersion: bigint) {
  const values = new Map<string, string>([[generationKey('account-settings'), REDIS_GENERATION.toString()]]);
  if (entry) values.set(key, `e|${entry.version}|${entry.generation}|payload`);
  return {
    redis: { get: async (k: string) => values.get(k) ?? null, getBuffer: async (k: string) => (values.has(k) ? Buffer.from(values.get(k)!, 'latin1') : null) },
    rows: { versions: async () => new Map([[key, rowVersion]]), close: async () => undefined } as RowVersionSource,
  };
}

describe('inspect of an entry', () => {
  it('of this release\'s format (0): judged under the space\'s generation', async () => {
    const i = await inspectResource(name, fakes({ version: 9n, generation: REDIS_GENERATION }, 9n));
    expect(i).toMatchObject({ verdict: 'fresh', currentGeneration: REDIS_GENERATION.toString(), entryPayloadFormat: 0 });
  });

  it('of another release\'s payload format: judged as that release serves it, and said to be its', async () => {
    const generation = servedGeneration('account-settings', 3, REDIS_GENERATION);
    const stale = await inspectResource(name, fakes({ version: 5n, generation }, 9n));
    expect(stale).toMatchObject({ verdict: 'stale', entryPayloadFormat: 3 });
    expect(stale.explanation).toContain('payload format 3');
    const fresh = await inspectResource(name, fakes({ version: 9n, generation }, 9n));
    expect(fresh.verdict).toBe('fresh');
  });

  it('of a retired generation (no format reads it): missing', async () => {
    const i = await inspectResource(name, fakes({ version: 5n, generation: 42n }, 9n));
    expect(i.verdict).toBe('missing');
    expect(i.entryPayloadFormat).toBeUndefined();
  });
});
