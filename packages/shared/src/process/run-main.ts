import { constants } from 'node:os';
import { ConfigError } from '../config/env-config';
import { createLogger, type Logger } from '../observability/logger';

/** What a started service hands back: how to drain it when a signal asks it to stop. */
export interface Drainable {
  stop(): Promise<void>;
}

/** What start-up may ask of runMain (the third argument of `start`). */
export interface Startup {
  /**
   * Runs `step` so that a SIGTERM/SIGINT arriving during it does not exit at once: the step
   * finishes, start-up goes on to return what drains the service, and the drain runs then (the
   * forced exit bounds the whole, from the signal). For a step that an exit would cut short
   * leaving behind what only the drain cleans up: a Kafka consumer joining its group is a member
   * the group waits for until its session times out unless it leaves. A step that fails with a
   * signal pending exits as a signal before serving does (128 + its number). Outside such steps a
   * signal during start-up still exits at once.
   */
  completeBeforeExit<T>(what: string, step: () => Promise<T>): Promise<T>;
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
  start(config: C, log: Logger, startup: Startup): Promise<Drainable | number | void>;
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
 * the signal number, as a shell reports it; but during a step start-up marks with
 * `startup.completeBeforeExit` the step finishes and the service is drained as soon as start-up
 * returns it. Later signals during a drain are ignored (Ctrl-C
 * reaches every process of the terminal's group, and a supervisor may send SIGTERM as well);
 * the forced exit bounds the drain.
 */
export function runMain<C>(spec: MainSpec<C>): void {
  // Filled in as start-up proceeds; the signal handler reads whatever is there when it runs.
  const state: {
    config?: C;
    log?: Logger;
    running?: Drainable;
    stopping: boolean;
    /** Start-up steps under way that a signal waits for (Startup.completeBeforeExit), by name. */
    completing: string[];
    /** A signal that came during such a step: the drain runs once start-up returns. */
    pending?: NodeJS.Signals;
  } = { stopping: false, completing: [] };

  const exitForSignal = (signal: NodeJS.Signals): never => process.exit(128 + constants.signals[signal]);
  const armForcedExit = (what: string): void => {
    const graceMs = typeof spec.forceExitAfterMs === 'function' ? spec.forceExitAfterMs(state.config as C /* loaded before anything runs */) : (spec.forceExitAfterMs ?? DEFAULT_FORCE_EXIT_MS);
    const force = setTimeout(() => {
      state.log?.error({ graceMs }, `${what} did not finish in time: exiting anyway`);
      process.exit(1);
    }, graceMs);
    force.unref();
  };
  const drain = (running: Drainable): void => {
    running.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        state.log?.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    if (state.stopping) return;
    state.stopping = true;
    const { log, running } = state;
    if (running === undefined) {
      if (state.completing.length === 0) {
        log?.info({ signal }, 'signal before anything serves (start-up, or a job at work): exiting, nothing to drain');
        exitForSignal(signal);
      }
      state.pending = signal;
      log?.info({ signal, steps: state.completing }, 'signal during a start-up step that must finish first: finishing it, then draining');
      armForcedExit('start-up step and drain');
      return;
    }
    log?.info({ signal }, spec.drainMessage ?? 'shutting down: draining');
    armForcedExit('drain');
    drain(running);
  };
  const startup: Startup = {
    async completeBeforeExit(what, step) {
      state.completing.push(what);
      try {
        return await step();
      } catch (err) {
        if (state.pending) exitForSignal(state.pending);
        throw err;
      } finally {
        state.completing.splice(state.completing.indexOf(what), 1);
      }
    },
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
    const earlyDisconnect = (globalThis as Record<symbol, unknown>)[Symbol.for('settings-cache.early-disconnect-exit')];
    if (typeof earlyDisconnect === 'function') process.off('disconnect', earlyDisconnect as () => void);
    process.channel.unref();
  }

  const config = loadConfigOrExit(spec);
  const log = spec.createLogger ? spec.createLogger(config) : createLogger(spec.name, logLevelOf(config));
  state.config = config;
  state.log = log;
  spec.start(config, log, startup).then(
    (result) => {
      if (typeof result !== 'object' || result === null) process.exit(result ?? 0);
      state.running = result;
      if (state.pending) {
        log.info({ signal: state.pending }, spec.drainMessage ?? 'shutting down: draining');
        drain(result);
      }
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
