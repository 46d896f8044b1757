import { localKafka } from '../src/kafka-client';

/** The consumer group of the invalidator `npm start` runs (its KAFKA_GROUP_ID default). */
const NPM_START_INVALIDATOR_GROUP = 'settings-invalidator';

/**
 * Someone's `npm start` runs an invalidator on these change topics and on the Redis database the
 * tests use: it evicts the keys the tests check, so a test that proves an eviction (commit after
 * eviction, dead letters, fences) could pass on its work instead of the test's own invalidator.
 * Refused, saying what to do, rather than passing for the wrong reason.
 */
export async function refuseRunningInvalidator(): Promise<void> {
  const admin = localKafka('test-setup').admin();
  await admin.connect();
  try {
    const { groups } = await admin.describeGroups([NPM_START_INVALIDATOR_GROUP]);
    const members = groups[0]?.members.length ?? 0;
    if (members > 0) {
      throw new Error(
        `an invalidator is running in consumer group ${NPM_START_INVALIDATOR_GROUP} (${members} member(s): someone's \`npm start\`?). ` +
          'It evicts the keys the integration tests check, so those tests could pass on its work: stop it (Ctrl-C the `npm start`) and run the tests again.',
      );
    }
  } finally {
    await admin.disconnect();
  }
}
