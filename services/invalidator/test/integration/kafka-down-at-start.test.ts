import { createServer, connect, type Server, type Socket } from 'node:net';
import { createLogger, localStack } from '@settings/shared';
import { freePort } from '@settings/local-stack';
import { startInvalidator, type RunningInvalidator } from '../../src/invalidator';
import { positionGroupAtEnd, testConfig, waitFor } from '../support/test-invalidator';

/**
 * A pod that starts while Kafka cannot be reached (a rollout or node drain during a broker
 * restart) stays up, live and not ready, and joins once Kafka answers — it used to exit 1 after
 * kafkajs' retries (~12 s), into Kubernetes' crash-loop back-off. Kafka is "unreachable" at a
 * port nobody listens on; it becomes reachable when a forwarder to the stack's broker starts
 * listening there (the client then follows the broker's advertised address).
 */
jest.setTimeout(90_000);

it('stays live and not ready while Kafka is unreachable at start-up, and becomes ready once it answers', async () => {
  const [kafkaPort, httpPort] = [await freePort(), await freePort()];
  const config = testConfig({ KAFKA_BROKERS: `127.0.0.1:${kafkaPort}`, HTTP_PORT: String(httpPort), LOG_LEVEL: 'silent' });
  await positionGroupAtEnd(config.KAFKA_GROUP_ID);
  const status = async (path: string): Promise<number> => (await fetch(`http://127.0.0.1:${httpPort}${path}`)).status;
  let started: RunningInvalidator | undefined;
  let failed: unknown;
  const starting = startInvalidator(config, createLogger('test-invalidator', 'silent')).then(
    (r) => (started = r),
    (err: unknown) => (failed = err),
  );
  let forwarder: Server | undefined;
  const sockets = new Set<Socket>();
  try {
    await waitFor(async () => (await status('/healthz').catch(() => 0)) === 200, 15_000, 'probes answering');
    // Longer than kafkajs' own connection retries, after which start-up used to fail.
    await new Promise((r) => setTimeout(r, 15_000));
    expect(failed).toBeUndefined();
    expect(await status('/healthz')).toBe(200);
    expect(await status('/readyz')).toBe(503);

    forwarder = createServer((client) => {
      const broker = connect(localStack.kafkaPort, '127.0.0.1');
      for (const s of [client, broker]) {
        sockets.add(s);
        s.on('error', () => undefined);
        s.on('close', () => sockets.delete(s));
      }
      client.pipe(broker).pipe(client);
    });
    await new Promise<void>((r) => forwarder!.listen(kafkaPort, '127.0.0.1', r));
    await waitFor(async () => (await status('/readyz')) === 200, 60_000, 'ready once Kafka answers');
    await starting;
    expect(failed).toBeUndefined();
  } finally {
    // Start-up that never reached Kafka cannot be stopped (it retries until it does); a failed
    // run leaves it to the end of the process rather than waiting for it here.
    if (started) await started.stop();
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => (forwarder ? forwarder.close(() => r()) : r()));
  }
});
