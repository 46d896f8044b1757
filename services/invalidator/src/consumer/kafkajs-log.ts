import { logLevel, type logCreator } from 'kafkajs';
import type { Logger } from '@settings/shared';

/**
 * What kafkajs writes on creating an idempotent producer with a retry count. The dead-letter
 * producer is configured so on purpose (change-consumer.ts: one publish attempt is bounded, and
 * dead letters are at-least-once anyway).
 */
const LIMITED_IDEMPOTENT_RETRIES = 'Limiting retries for the idempotent producer may invalidate EoS guarantees';

/**
 * kafkajs' log lines as this service's own JSON lines: ERROR as error, anything else kafkajs
 * lets through as warn (clients are made with `logLevel: WARN`). One warning is written as
 * debug instead: the limited-retries notice above came at every start of every replica, about
 * the configuration rather than a fault, and a warn an operator learns to ignore hides the next.
 */
export function kafkajsLogCreator(log: Logger): logCreator {
  return () =>
    ({ namespace, level, log: entry }) => {
      const { message, ...extra } = entry;
      const text = String(message);
      const write = level === logLevel.ERROR ? log.error : text === LIMITED_IDEMPOTENT_RETRIES ? log.debug : log.warn;
      write.call(log, { namespace, ...extra }, text);
    };
}
