import { runMain } from '@settings/shared';
import { startSettingsServer } from './app';
import { loadSettingsConfig } from './config';

// Starts the gRPC server and nothing else: migrations run as their own Job (src/migrate.ts).
// runMain installs the SIGTERM/SIGINT handlers before start-up (PID 1 in a container).
runMain({
  name: 'settings-service',
  loadConfig: () => loadSettingsConfig(),
  start: (config, log) => startSettingsServer(config, log),
  drainMessage: 'shutting down: health NOT_SERVING, draining calls',
  // Backstop in case closing a client hangs; the drain itself is bounded by SHUTDOWN_GRACE_MS.
  forceExitAfterMs: (config) => config.SHUTDOWN_GRACE_MS + 10_000,
});
