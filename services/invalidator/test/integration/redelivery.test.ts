import { cacheKeys, changeTopic, createLogger, localStack, withCacheScripts } from '@settings/shared';
import { commitGroupOffsets, deleteGroups, drainDebezium, groupCaughtUp, topicEnds } from '@settings/local-stack';
import { startInvalidator } from '../../src/invalidator';
import { accountSettingsVersion, fencedAtLeast, readCache, sql, startTestInvalidator, testConfig, testRedis, uniqueId, waitFor } from '../support/test-invalidator';

/**
 * README, Guarantees ("idempotent, order-insensitive"): Kafka delivers at least once, so a change
 * event can come again (a member that dies before its commit, a group reset to an earlier
 * offset). Replayed through a real consumer group from before a row's changes, its old events
 * never lower the marker of a newer change nor evict the entry of the current version.
 */
jest.setTimeout(90_000);
const topic = changeTopic(localStack.topicPrefix, 'account_settings');
const redis = testRedis();
const scripts = withCacheScripts(testRedis());
afterAll(() => {
  redis.disconnect();
  scripts.disconnect();
});

it("replaying a row's change events from before them leaves its current entry and a newer marker as they are", async () => {
  // Where the topic ends before the changes: the replaying group starts here.
  await drainDebezium();
  const before = await topicEnds([topic]);

  const first = await startTestInvalidator();
  const cached = uniqueId();
  const fenced = uniqueId();
  try {
    for (const account of [cached, fenced]) {
      await sql('INSERT INTO account_settings (account_id, display_name) VALUES ($1, $2)', [account, 'v1']);
      await sql("UPDATE account_settings SET display_name = 'v2' WHERE account_id = $1", [account]);
      await sql("UPDATE account_settings SET display_name = 'v3' WHERE account_id = $1", [account]);
    }
    for (const account of [cached, fenced]) {
      const v = await accountSettingsVersion(account);
      await waitFor(async () => fencedAtLeast(await readCache(redis, cacheKeys.accountSettings(account).key), v), 15_000, `marker of ${account} at its last version`);
    }
  } finally {
    await first.stop();
  }
  // One key now holds the current version's entry (a reader filled it); the other keeps its marker.
  const current = await accountSettingsVersion(cached);
  const newest = await accountSettingsVersion(fenced);
  const cachedKey = cacheKeys.accountSettings(cached).key;
  const fencedKey = cacheKeys.accountSettings(fenced).key;
  expect(await scripts.versionedFill(cachedKey, current.toString(), '0', 60_000, Buffer.from('v3'), 600_000)).toBe(1);
  // The marker stands above every replayed floor (a later change's, as another member would
  // have written it): a script that lowered markers would leave the last replayed floor, not it.
  const above = newest + 5n;
  await scripts.evictToMarker(fencedKey, above.toString(), 600_000);
  expect(await readCache(redis, fencedKey)).toEqual({ kind: 'marker', floor: above });

  // A second group, committed at the offsets from before the changes: every event comes again,
  // one event per chunk, so each old floor reaches Redis on its own (in one chunk the batcher
  // would keep only each key's highest floor).
  const config = testConfig({ BATCH_CHUNK_SIZE: '1' });
  await commitGroupOffsets(config.KAFKA_GROUP_ID, before);
  const replay = await startInvalidator(config, createLogger('test-invalidator-replay', config.LOG_LEVEL));
  try {
    await waitFor(() => groupCaughtUp(config.KAFKA_GROUP_ID, [topic]), 30_000, 'the replaying group caught up with the topic');
    // The replay did run: at least the six change events of the two rows came again.
    const consumed = (await replay.metrics.registry.getSingleMetric('invalidator_events_consumed_total')!.get()).values.reduce((s, v) => s + v.value, 0);
    expect(consumed).toBeGreaterThanOrEqual(6);
    expect(await readCache(redis, cachedKey)).toMatchObject({ kind: 'entry', version: current });
    expect(await readCache(redis, fencedKey)).toEqual({ kind: 'marker', floor: above });
  } finally {
    await replay.stop();
    await deleteGroups([config.KAFKA_GROUP_ID, first.config.KAFKA_GROUP_ID]);
    await sql('DELETE FROM account_settings WHERE account_id = ANY($1)', [[cached, fenced]]);
  }
});
