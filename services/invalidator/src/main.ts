// First: a signal while the rest loads exits at once (PID 1 has no default action).
import '@settings/shared/early-signal-exit';
import { startTracing } from '@settings/shared/tracing';

// Tracing first: it patches kafkajs, ioredis and pg as they are required, so the rest of the
// service is loaded by the dynamic imports below (a static import would be hoisted above this
// line). Off, nothing started, unless an OTLP endpoint is configured (README, Tracing).
const tracing = startTracing({ serviceName: 'settings-invalidator' });

void (async () => {
  const { runMain } = await import('@settings/shared');
  const { loadInvalidatorConfig } = await import('./config');
  const { startInvalidator } = await import('./invalidator');
  // runMain installs the SIGTERM/SIGINT handlers before start-up (PID 1 in a container): a
  // SIGTERM while Kafka is unreachable ends the start instead of waiting for the SIGKILL. The
  // drain gets runMain's default 25 s (inside the pod's 30 s termination grace period).
  runMain({
    name: 'settings-invalidator',
    loadConfig: () => loadInvalidatorConfig(),
    start: async (config, log, startup) => {
      const running = await startInvalidator(config, log, startup);
      // The spans of the last batches leave before the process does.
      return { stop: () => running.stop().finally(() => tracing?.shutdown()) };
    },
    drainMessage: 'shutting down: finishing or abandoning the current batch without committing past it',
  });
})();
