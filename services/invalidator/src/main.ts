import { ConfigError, createLogger } from '@settings/shared';
import { loadInvalidatorConfig } from './config';
import { startInvalidator } from './invalidator';

async function main(): Promise<void> {
  let config;
  try {
    config = loadInvalidatorConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`settings-invalidator: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const log = createLogger('settings-invalidator', config.LOG_LEVEL);
  const running = await startInvalidator(config, log);
  const shutdown = (signal: string): void => {
    log.info({ signal }, 'shutting down: finishing or abandoning the current batch without committing past it');
    const force = setTimeout(() => process.exit(1), 25_000);
    force.unref();
    running.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

main().catch((err: unknown) => {
  process.stderr.write(`settings-invalidator failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
