import type { ChildProcess } from 'node:child_process';
import { freePort, httpStatus, withAdmin } from '@settings/local-stack';
import { killIfRunning, startInvalidatorChild } from '../support/invalidator-child';
import { allAccountsFenced, positionGroupAtEnd, sql, testRedis, uniqueId, waitFor } from '../support/test-invalidator';

/**
 * README, Configuration (KAFKA_GROUP_INSTANCE_ID) and non-guarantee 11: two live replicas given
 * the same instance id (a constant set where the pod's name belongs). The later join takes the
 * member's place; the earlier replica is fenced (FENCED_INSTANCE_ID, which kafkajs does not
 * retry), stays crashed and fails liveness, so the operator sees it; changes are still evicted,
 * by the replica holding the place.
 */
jest.setTimeout(120_000);
const ACCOUNTS = 30;
const prefix = uniqueId('dupid');
const accounts = Array.from({ length: ACCOUNTS }, (_, i) => `${prefix}-${i}`);
const groupId = uniqueId('test-dup-instance-');
const redis = testRedis();
const children: ChildProcess[] = [];

afterAll(async () => {
  for (const child of children) await killIfRunning(child);
  redis.disconnect();
  await sql('DELETE FROM account_settings WHERE account_id LIKE $1', [`${prefix}-%`]);
  await withAdmin('dup-instance-test', (admin) => admin.deleteGroups([groupId])).catch(() => undefined);
});

it('a second live replica with the same instance id fences the first, which fails liveness; every change is still evicted', async () => {
  await positionGroupAtEnd(groupId);
  const instanceId = uniqueId('invalidator-dup-');
  const start = async (): Promise<number> => {
    const port = await freePort();
    children.push(startInvalidatorChild(groupId, { HTTP_PORT: String(port), KAFKA_GROUP_INSTANCE_ID: instanceId, LOG_LEVEL: 'error' }));
    await waitFor(async () => (await httpStatus(port, '/readyz')) === 200, 60_000, `replica on :${port} joined`);
    return port;
  };
  const first = await start();
  const second = await start();

  // The first learns it was replaced at its next heartbeat (about a second).
  await waitFor(async () => (await httpStatus(first, '/healthz')) === 503, 30_000, 'the fenced replica failing liveness');
  expect(await httpStatus(second, '/healthz')).toBe(200);
  // Crashed for good: not restarted into fencing the second in turn.
  await new Promise((resolve) => setTimeout(resolve, 3_000));
  expect(await httpStatus(first, '/healthz')).toBe(503);
  expect(await httpStatus(second, '/readyz')).toBe(200);

  await sql('INSERT INTO account_settings (account_id) SELECT unnest($1::text[])', [accounts]);
  await waitFor(() => allAccountsFenced(redis, accounts), 60_000, 'every insert evicted by the replica holding the place');
});
