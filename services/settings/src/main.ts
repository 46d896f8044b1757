import { ConfigError, createLogger } from '@settings/shared';
import { startSettingsServer } from './app';
import { loadSettingsConfig, type SettingsConfig } from './config';

// Starts the gRPC server and nothing else: migrations run as their own Job (src/migrate.ts).
async function main(): Promise<void> {
  let config: SettingsConfig;
  try {
    config = loadSettingsConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`settings-service: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const log = createLogger('settings-service', config.LOG_LEVEL);
  const running = await startSettingsServer(config, log);
  const shutdown = (signal: string): void => {
    log.info({ signal }, 'shutting down: health NOT_SERVING, draining calls');
    // Backstop in case closing a client hangs; the drain itself is bounded by SHUTDOWN_GRACE_MS.
    const force = setTimeout(() => process.exit(1), config.SHUTDOWN_GRACE_MS + 10_000);
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
  process.stderr.write(`settings-service failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
