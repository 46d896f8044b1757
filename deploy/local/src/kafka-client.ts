import { Kafka, logLevel, type Admin } from 'kafkajs';
import { localKafkaBrokers } from '@settings/shared';

/**
 * A kafkajs client of the local stack's broker (PLAINTEXT, no authentication). Quiet: its
 * callers report their own errors. `retries: 0` for probes that are themselves retried.
 */
export function localKafka(clientId: string, opts: { retries?: number } = {}): Kafka {
  return new Kafka({
    clientId,
    brokers: localKafkaBrokers.split(','),
    logLevel: logLevel.NOTHING,
    ...(opts.retries === undefined ? {} : { retry: { retries: opts.retries } }),
  });
}

/** Runs `work` with a connected admin client, disconnected afterwards whatever happens. */
export async function withAdmin<T>(clientId: string, work: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = localKafka(clientId).admin();
  await admin.connect();
  try {
    return await work(admin);
  } finally {
    await admin.disconnect();
  }
}
