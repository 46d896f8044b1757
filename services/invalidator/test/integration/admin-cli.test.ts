import { Partitioners } from 'kafkajs';
import Redis from 'ioredis';
import { cacheKeys, changeTopic, establishGeneration, generationKey, localRedisUrl, localStack, withCacheScripts } from '@settings/shared';
import { ChangeTopicReader, localKafka } from '@settings/local-stack';
import { fencedAtLeast, readCache, sql, startTestInvalidator, uniqueId, waitFor } from '../support/test-invalidator';
import type { RunningInvalidator } from '../../src/invalidator';
import { createAdminProgram, exitCodeOf } from '../../src/admin/settings-admin';

/**
 * The operator CLI (src/admin/settings-admin.ts) against the real stack, through its command
 * parser: `inspect` tells fresh, stale, marker and missing apart; `dlq list` shows a poison event
 * the invalidator dead-lettered, `dlq replay --dry-run` lists it without publishing, and `dlq
 * replay` puts the original bytes back on the change topic, once per consumer group.
 * Own DLQ topic, replay group and account ids.
 */
const DLQ_TOPIC = uniqueId('test-admin-dlq-');
const ENV = { SETTINGS_LOCAL_STACK: '1', DLQ_TOPIC };
const redis = withCacheScripts(new Redis(localRedisUrl, { maxRetriesPerRequest: 1 }));
const producer = localKafka('admin-cli-test').producer({ createPartitioner: Partitioners.DefaultPartitioner });
const accounts: string[] = [];
let inv: (RunningInvalidator & { config: { DLQ_TOPIC: string } }) | undefined;

/** Runs `settings-admin <args>` in this process; returns its stdout lines. */
async function admin(...args: string[]): Promise<string[]> {
  const lines: string[] = [];
  await createAdminProgram({ env: ENV, out: (l) => lines.push(l) }).parseAsync(args, { from: 'user' });
  return lines;
}

async function newAccount(): Promise<{ account: string; name: string; key: string; version: bigint }> {
  const account = uniqueId('admin-');
  accounts.push(account);
  const [row] = await sql('INSERT INTO account_settings (account_id) VALUES ($1) RETURNING version::text AS version', [account]);
  return { account, name: `accounts/${account}/settings`, key: cacheKeys.accountSettings(account).key, version: BigInt(row!.version as string) };
}

async function fill(key: string, version: bigint): Promise<void> {
  const generation = await establishGeneration(redis, 'account-settings', await redis.get(generationKey('account-settings')));
  await redis.del(key);
  expect(await redis.versionedFill(key, version.toString(), generation, 300_000, Buffer.from('{}'), 600_000)).toBe(1);
}

const verdictOf = async (name: string): Promise<{ verdict: string; rowVersion?: string; cached: { kind: string } }> => JSON.parse((await admin('inspect', name, '--json'))[0]!);

beforeAll(async () => {
  inv = await startTestInvalidator({ DLQ_TOPIC });
  await producer.connect();
});
afterAll(async () => {
  await inv?.stop();
  await producer.disconnect();
  if (accounts.length > 0) await sql('DELETE FROM account_settings WHERE account_id = ANY($1)', [accounts]);
  for (const a of accounts) await redis.del(cacheKeys.accountSettings(a).key);
  redis.disconnect();
  const kafkaAdmin = localKafka('admin-cli-test').admin();
  await kafkaAdmin.connect();
  await kafkaAdmin.deleteTopics({ topics: [DLQ_TOPIC] }).catch(() => undefined);
  await kafkaAdmin.disconnect();
});

describe('settings-admin inspect', () => {
  it('reports fresh for an entry at the row version, marker after the eviction of an update, stale for a planted old entry', async () => {
    const { name, key, version, account } = await newAccount();
    await fill(key, version);
    expect(await verdictOf(name)).toMatchObject({ verdict: 'fresh', rowVersion: version.toString(), cached: { kind: 'entry' } });

    const [updated] = await sql("UPDATE account_settings SET display_name = 'After' WHERE account_id = $1 RETURNING version::text AS version", [account]);
    const newVersion = BigInt(updated!.version as string);
    await waitFor(async () => fencedAtLeast(await readCache(redis, key), newVersion), 20_000, 'the update evicted the entry');
    expect(await verdictOf(name)).toMatchObject({ verdict: 'marker', rowVersion: newVersion.toString() });

    // A lost eviction, planted: the entry at the old version again (nothing in the system does this).
    await fill(key, version);
    const [stale] = await admin('inspect', name);
    expect(stale!.split('\n')[0]).toBe(`${name}: STALE`);
    expect(stale).toContain(`entry at version ${version}, row at ${newVersion}`);
    expect(stale).toContain('invalidator_consumer_lag_messages'); // behind its row: lag or a lost eviction, not "lost" for sure
  });

  it('reports fresh for a cached absence of a name with no row, and stale for one planted over a row', async () => {
    const account = uniqueId('admin-absent-');
    accounts.push(account);
    const name = `accounts/${account}/settings`;
    const { key } = cacheKeys.accountSettings(account);
    const generation = await establishGeneration(redis, 'account-settings', await redis.get(generationKey('account-settings')));
    // The settings service's cached absence: an entry of version 0 with no payload.
    expect(await redis.versionedFill(key, '0', generation, 300_000, Buffer.alloc(0), 600_000)).toBe(1);
    expect(await verdictOf(name)).toMatchObject({ verdict: 'fresh', cached: { kind: 'entry' } });

    const [row] = await sql('INSERT INTO account_settings (account_id) VALUES ($1) RETURNING version::text AS version', [account]);
    await waitFor(async () => fencedAtLeast(await readCache(redis, key), BigInt(row!.version as string)), 20_000, 'the creation evicted the absence');
    // A lost eviction, planted: the absence again over the row (nothing in the system does this).
    await redis.del(key);
    expect(await redis.versionedFill(key, '0', generation, 300_000, Buffer.alloc(0), 600_000)).toBe(1);
    const [stale] = await admin('inspect', name);
    expect(stale!.split('\n')[0]).toBe(`${name}: STALE`);
    expect(stale).toContain(`cached absence (version 0) but the row exists at version ${row!.version as string}`);
  });

  it('reports missing for a resource with nothing cached, and refuses a name that is not a resource', async () => {
    expect(await verdictOf(`accounts/${uniqueId('admin-none-')}/settings`)).toMatchObject({ verdict: 'missing', cached: { kind: 'none' } });
    await expect(admin('inspect', 'accounts/acme/nothing')).rejects.toThrow(/not a settings resource name/);
  });
});

describe('settings-admin dlq', () => {
  it('lists a dead-lettered poison event, dry-runs and replays it to its original topic once per group', async () => {
    const topic = changeTopic(localStack.topicPrefix, 'account_settings');
    const key = JSON.stringify({ account_id: uniqueId('admin-poison-') });
    const poison = Buffer.from('\u0000\u00ffnot json');
    await producer.send({ topic, messages: [{ key, value: poison }] });
    await waitFor(async () => (await admin('dlq', 'list', '--limit', '100')).some((l) => l.includes(`key=${key}`)), 30_000, 'poison event in the DLQ');
    const [listed] = (await admin('dlq', 'list')).filter((l) => l.includes(`key=${key}`));
    expect(listed).toMatch(new RegExp(`^\\d+@\\d+\\t${topic.replace(/\./g, '\\.')}/\\d+@\\d+\\t.*not JSON`));

    // Stop the invalidator: it would dead-letter the replayed (still poisonous) event again.
    await inv!.stop();
    inv = undefined;
    const group = uniqueId('test-admin-replay-');
    const dry = await admin('dlq', 'replay', '--dry-run', '--group', group);
    expect(dry.filter((l) => l.startsWith('would replay') && l.includes(`key=${key}`))).toHaveLength(1);
    expect(dry.at(-1)).toBe('dry run: would replay 1 dead letter(s), skipped 0');

    const reader = new ChangeTopicReader(topic);
    await reader.start();
    try {
      expect((await admin('dlq', 'replay', '--group', group)).at(-1)).toBe(`replayed 1 dead letter(s), skipped 0 (group ${group})`);
      const { message } = await reader.waitFor((_v, m) => m.key?.toString() === key, 20_000);
      expect(Buffer.compare(message.value!, poison)).toBe(0);
      expect(message.headers?.['dlq.replayed.from']?.toString()).toMatch(new RegExp(`^${DLQ_TOPIC}/\\d+@\\d+$`));
    } finally {
      await reader.stop();
    }
    // The group remembers: a second run has nothing left to replay.
    expect((await admin('dlq', 'replay', '--group', group)).at(-1)).toBe(`replayed 0 dead letter(s), skipped 0 (group ${group})`);
  });

  it('marks a dead letter that holds only the first bytes of its event, and never replays it (it would come back as a dead letter on every replay)', async () => {
    const topic = changeTopic(localStack.topicPrefix, 'account_settings');
    const key = JSON.stringify({ account_id: uniqueId('admin-cut-') });
    // What the invalidator writes for an event larger than DLQ_MAX_SEND_BYTES (dead-letter-publisher.ts).
    await producer.send({
      topic: DLQ_TOPIC,
      messages: [
        {
          key,
          value: Buffer.from('{"op":"u","after":{"account_id":"x'),
          headers: { 'dlq.source.topic': topic, 'dlq.source.partition': '0', 'dlq.source.offset': '1', 'dlq.reason': 'not JSON: too large', 'dlq.truncated.value.bytes': '2000000' },
        },
      ],
    });
    const group = uniqueId('test-admin-cut-');
    let dry: string[] = [];
    await waitFor(async () => (dry = await admin('dlq', 'replay', '--dry-run', '--group', group)).some((l) => l.includes(`key=${key}`)), 30_000, 'the truncated dead letter read');
    const line = dry.find((l) => l.includes(`key=${key}`))!;
    expect(line).toMatch(/^skip /);
    expect(line).toContain('TRUNCATED (value was 2000000 bytes)');
    expect(dry.filter((l) => l.startsWith('would replay') && l.includes(`key=${key}`))).toEqual([]);
  });
});

describe('renew-generations', () => {
  const generations = async (): Promise<Record<string, string | null>> => {
    const spaces = ['account-settings', 'doctor-settings', 'staff-permission', 'staff-permission-list', 'onpatient-settings'] as const;
    return Object.fromEntries(await Promise.all(spaces.map(async (s) => [s, await redis.get(generationKey(s))])));
  };

  it('renews only the key space named (the runbooks name one), and refuses an unknown name without renewing anything', async () => {
    for (const s of ['account-settings', 'doctor-settings'] as const) await establishGeneration(redis, s, await redis.get(generationKey(s)));
    const before = await generations();
    expect(await admin('renew-generations', 'account-settings')).toEqual(['renewed the generation of 1 key spaces (account-settings): every entry cached in them is now a miss']);
    const after = await generations();
    expect(after['account-settings']).not.toBe(before['account-settings']);
    expect({ ...after, 'account-settings': null }).toEqual({ ...before, 'account-settings': null });

    const err = await admin('renew-generations', 'account-setings').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(exitCodeOf(err)).toBe(2);
    expect(String(err)).toMatch(/unknown key space account-setings/);
    expect(await generations()).toEqual(after);
  });
});
