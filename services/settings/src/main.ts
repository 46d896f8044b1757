// First: a signal while the rest loads exits at once (PID 1 has no default action).
import '@settings/shared/early-signal-exit';
import { startTracing } from '@settings/shared/tracing';

// Tracing first: it patches @grpc/grpc-js, pg and ioredis as they are required, so the rest of
// the service is loaded by the dynamic imports below (a static import would be hoisted above
// this line). Off, nothing started, unless an OTLP endpoint is configured (README, Tracing).
const tracing = startTracing({ serviceName: 'settings-service' });

void (async () => {
  const { runMain } = await import('@settings/shared');
  const { startSettingsServer } = await import('./app');
  const { loadSettingsConfig } = await import('./config');
  // Starts the gRPC server and nothing else: migrations run as their own Job (src/migrate.ts).
  // runMain installs the SIGTERM/SIGINT handlers before start-up (PID 1 in a container).
  runMain({
    name: 'settings-service',
    loadConfig: () => loadSettingsConfig(),
    start: async (config, log) => {
      const running = await startSettingsServer(config, log);
      // The spans of the last calls leave before the process does.
      return { stop: () => running.stop().finally(() => tracing?.shutdown()) };
    },
    drainMessage: 'shutting down: health NOT_SERVING, draining calls',
    // Backstop in case closing a client hangs; the drain itself is bounded by SHUTDOWN_GRACE_MS.
    forceExitAfterMs: (config) => config.SHUTDOWN_GRACE_MS + 10_000,
  });
})();
