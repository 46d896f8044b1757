import { constants } from 'node:os';
import { ConfigError } from '../config/env-config';
import { createLogger, type Logger } from '../observability/logger';

/** What a started service hands back: how to drain it when a signal asks it to stop. */
export interface Drainable {
  stop(): Promise<void>;
}

export interface MainSpec<C> {
  /** Names the process in its stderr lines (`<name>: invalid configuration: …`) and its logger. */
  readonly name: string;
  /** Reads and validates the configuration; a ConfigError exits 2 with its message. */
  loadConfig(): C;
  /** Default: JSON logs under `name`, at the configuration's LOG_LEVEL (commonEnv) or `info`. */
  createLogger?(config: C): Logger;
  /**
   * The process's work. A service resolves once it serves, with what drains it; it then runs
   * until SIGTERM/SIGINT. A job (a migration, a benchmark) resolves when it is done, with its
   * exit code (nothing = 0). A rejection exits 1.
   */
  start(config: C, log: Logger): Promise<Drainable | number | void>;
  /** Logged at the signal that starts the drain, saying what draining means for this service. */
  readonly drainMessage?: string;
  /** How long a drain may take before the process exits 1 anyway (default DEFAULT_FORCE_EXIT_MS). */
  readonly forceExitAfterMs?: number | ((config: C) => number);
}

/** Inside Kubernetes' default terminationGracePeriodSeconds (30 s), with room for the SIGKILL. */
export const DEFAULT_FORCE_EXIT_MS = 25_000;

const SIGNALS: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT'];

/**
 * The one start-up of every entry point: configuration error → exit 2 with the message, failed
 * start → exit 1, SIGTERM/SIGINT → drain, then exit 0 (1 if the drain fails or overruns).
 *
 * The signal handlers go in before anything else runs. As PID 1 in a container a process gets
 * no default signal action: without a handler, a SIGTERM during a slow start (database, Redis
 * or Kafka unreachable) would be ignored until the kubelet's SIGKILL. A signal before a service
 * serves (or while a job runs) leaves nothing to drain: the process exits at once with 128 +
 * the signal number, as a shell reports it. Later signals during a drain are ignored (Ctrl-C
 * reaches every process of the terminal's group, and a supervisor may send SIGTERM as well);
 * the forced exit bounds the drain.
 */
export function runMain<C>(spec: MainSpec<C>): void {
  // Filled in as start-up proceeds; the signal handler reads whatever is there when it runs.
  const state: { config?: C; log?: Logger; running?: Drainable; stopping: boolean } = { stopping: false };

  const onSignal = (signal: NodeJS.Signals): void => {
    if (state.stopping) return;
    state.stopping = true;
    const { config, log, running } = state;
    if (running === undefined) {
      log?.info({ signal }, 'signal before anything serves (start-up, or a job at work): exiting, nothing to drain');
      process.exit(128 + constants.signals[signal]);
    }
    log?.info({ signal }, spec.drainMessage ?? 'shutting down: draining');
    const graceMs = typeof spec.forceExitAfterMs === 'function' ? spec.forceExitAfterMs(config as C /* loaded before anything runs */) : (spec.forceExitAfterMs ?? DEFAULT_FORCE_EXIT_MS);
    const force = setTimeout(() => {
      log?.error({ graceMs }, 'drain did not finish in time: exiting anyway');
      process.exit(1);
    }, graceMs);
    force.unref();
    running.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log?.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  // The entry point's early handlers (early-signal-exit.ts) give way to these: added first, then
  // the early ones removed. A signal that arrived while modules loaded is still queued in the
  // loop's signal watcher, and a listener count of zero would close that watcher and drop it.
  const early = (globalThis as Record<symbol, unknown>)[Symbol.for('settings-cache.early-signal-exit')];
  for (const signal of SIGNALS) {
    process.on(signal, onSignal);
    if (typeof early === 'function') process.off(signal, early as (s: NodeJS.Signals) => void);
  }
  // Started by a harness over an IPC channel (deploy/local's ChildService): the channel closing
  // means the harness is gone, and this process drains as on SIGTERM instead of running on
  // unseen. Unreferenced, so the channel never keeps a finished process alive. Never in a pod.
  if (process.channel) {
    process.once('disconnect', () => onSignal('SIGTERM'));
    process.channel.unref();
  }

  const config = loadConfigOrExit(spec);
  const log = spec.createLogger ? spec.createLogger(config) : createLogger(spec.name, logLevelOf(config));
  state.config = config;
  state.log = log;
  spec.start(config, log).then(
    (result) => {
      if (typeof result === 'object' && result !== null) state.running = result;
      else process.exit(result ?? 0);
    },
    (err: unknown) => fail(spec.name, err),
  );
}

function logLevelOf(config: unknown): string {
  const level = typeof config === 'object' && config !== null ? (config as { LOG_LEVEL?: unknown }).LOG_LEVEL : undefined;
  return typeof level === 'string' ? level : 'info';
}

function loadConfigOrExit<C>(spec: MainSpec<C>): C {
  try {
    return spec.loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${spec.name}: ${err.message}\n`);
      process.exit(2);
    }
    fail(spec.name, err);
  }
}

function fail(name: string, err: unknown): never {
  process.stderr.write(`${name} failed: ${describe(err)}\n`);
  process.exit(1);
}

/** The error's stack, then each `cause` (a driver error wrapped by ours says what the server answered). */
function describe(err: unknown, depth = 0): string {
  const text = err instanceof Error ? (err.stack ?? err.message) : String(err);
  const cause = err instanceof Error ? err.cause : undefined;
  return cause === undefined || depth >= 3 ? text : `${text}\ncaused by: ${describe(cause, depth + 1)}`;
}
