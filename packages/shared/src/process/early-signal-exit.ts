import { constants } from 'node:os';

/**
 * Imported first by every service entry point (`import '@settings/shared/early-signal-exit'`),
 * before tracing and the service's own modules, whose loading takes 0.4–0.9 s. As PID 1 in a
 * container a process has no default signal action: a SIGTERM in that window was ignored, the
 * service started anyway and was SIGKILLed at the end of the grace period (an invalidator
 * never left its consumer group). Until runMain installs its own handlers (and removes these,
 * found by EARLY_SIGNAL_EXIT), a signal exits at once with 128 + its number, as a shell reports
 * it. A side effect on import, on purpose: nothing else of the service has run yet.
 */
export const EARLY_SIGNAL_EXIT = Symbol.for('settings-cache.early-signal-exit');

/**
 * Started by a harness over an IPC channel (deploy/local's ChildService), the channel closing
 * means the harness is gone: in this window too the process exits (as on SIGTERM) instead of
 * loading on and serving unseen. runMain drains on it later; without this listener a close
 * during module loading went unheard (Node then drops `process.channel`, so runMain installed
 * nothing either) and the service ran on as an orphan holding its ports.
 */
export const EARLY_DISCONNECT_EXIT = Symbol.for('settings-cache.early-disconnect-exit');

const exitOnEarlySignal = (signal: NodeJS.Signals): void => process.exit(128 + constants.signals[signal]);
const exitOnEarlyDisconnect = (): void => exitOnEarlySignal('SIGTERM');
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, exitOnEarlySignal);
if (process.channel) process.once('disconnect', exitOnEarlyDisconnect);
(globalThis as Record<symbol, unknown>)[EARLY_SIGNAL_EXIT] = exitOnEarlySignal;
(globalThis as Record<symbol, unknown>)[EARLY_DISCONNECT_EXIT] = exitOnEarlyDisconnect;
