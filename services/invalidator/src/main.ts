import { ConfigError, createLogger } from '@settings/shared';
import { loadInvalidatorConfig, type InvalidatorConfig } from './config';
import { startInvalidator, type RunningInvalidator } from './invalidator';

function loadConfigOrExit(): InvalidatorConfig {
  try {
    return loadInvalidatorConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`settings-invalidator: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
}

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const log = createLogger('settings-invalidator', config.LOG_LEVEL);
  const state: { running?: RunningInvalidator; stopping: boolean } = { stopping: false };
  // Handlers go in before start-up: as PID 1 in a container, a SIGTERM during a slow start
  // (Kafka unreachable) would otherwise be ignored until the kubelet's SIGKILL.
  const shutdown = (signal: string): void => {
    if (state.stopping) return;
    state.stopping = true;
    log.info({ signal }, 'shutting down: finishing or abandoning the current batch without committing past it');
    const force = setTimeout(() => process.exit(1), 25_000);
    force.unref();
    (state.running ? state.running.stop() : Promise.resolve()).then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
  state.running = await startInvalidator(config, log);
  if (state.stopping) await state.running.stop();
}

main().catch((err: unknown) => {
  process.stderr.write(`settings-invalidator failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
