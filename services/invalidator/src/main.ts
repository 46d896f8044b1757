import { runMain } from '@settings/shared';
import { loadInvalidatorConfig } from './config';
import { startInvalidator } from './invalidator';

// runMain installs the SIGTERM/SIGINT handlers before start-up (PID 1 in a container): a
// SIGTERM while Kafka is unreachable ends the start instead of waiting for the SIGKILL. The
// drain gets runMain's default 25 s (inside the pod's 30 s termination grace period).
runMain({
  name: 'settings-invalidator',
  loadConfig: () => loadInvalidatorConfig(),
  start: (config, log) => startInvalidator(config, log),
  drainMessage: 'shutting down: finishing or abandoning the current batch without committing past it',
});
